"""The placeholder ClientApp Flower requires in every app.

medfl SuperNodes (`medfl flower node`) answer train / evaluate messages
themselves in TypeScript and never load this module; a Python SuperNode that
does load it gets an explicit error reply instead of a silent no-op.
"""

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

app = ClientApp()


def _refuse(msg: Message) -> Message:
    raise RuntimeError(
        f"medfl-flower has no Python ClientApp: '{msg.metadata.message_type}' messages are answered by "
        "medfl SuperNodes (`medfl flower node --superlink HOST:PORT --site NAME`)"
    )


@app.train()
def train(msg: Message, context: Context) -> Message:  # noqa: ARG001
    return _refuse(msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:  # noqa: ARG001
    return _refuse(msg)
