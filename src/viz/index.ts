/**
 * medfl viz: plotly figure builders (plain `{ data, layout }` JSON, no plotly
 * dependency) and notebook / HTML display helpers for the tslab kernel.
 */
export type { PlotlyFigure, PlotlyTrace, PlotlyLayout, TableInput, DataFrameLike, AxisTitles } from './types';
export { tableRows } from './types';
export { lineChart, trainingCurves, roundCurves, type LineSeries, type LineChartOptions, type RoundMetric, type RoundCurvesOptions } from './line';
export { barChart, groupedBarChart, stackedBarChart, matrixRows, type BarChartOptions } from './bar';
export { heatmap, type HeatmapOptions } from './heatmap';
export {
  overlayRgb,
  limitRaster,
  rasterZ,
  rasterDataUrl,
  maskOverlayFigure,
  maskOverlayFigurePng,
  imageFigure,
  type RgbRaster,
  type OverlayPanel,
  type MaskOverlayOptions,
  type ImageFigureOptions,
} from './overlay';
export {
  findPlotlyBundle,
  plotlyScriptTag,
  figureDivHtml,
  figureHtml,
  writeFigureHtml,
  tableHtml,
  tableText,
  escapeHtml,
  scriptJson,
  DEFAULT_PLOTLY_CONFIG,
  type PlotlySource,
  type PlotlyBundle,
  type FigureHtmlOptions,
  type TableFormatOptions,
} from './html';
export {
  show,
  showTable,
  showHtml,
  showPng,
  showImage,
  showMarkdown,
  notebookDisplay,
  inNotebook,
  setNotebookDisplay,
  liveLine,
  type LiveLine,
  resetPlotlySession,
  type NotebookDisplay,
  type ShowOptions,
  type ShowTableOptions,
} from './display';
