"""Flower app for medfl SuperNodes: a ServerApp with Flower's strategies and a placeholder ClientApp."""
