// History charts with uPlot (vendored, loaded as a classic script that sets window.uPlot):
// one small chart per numeric attribute, from the temporal API.

const MAX_CHARTS = 6;

/** Draw into `container` a chart per series of `series` ({attr: [[t_s], [v]]}); returns the
 * uPlot instances (destroy them when the panel closes). */
export function historyCharts(container, series, { width = 320, height = 120, units = {} } = {}) {
  const charts = [];
  const names = Object.keys(series).filter((name) => series[name][0].length > 0).slice(0, MAX_CHARTS);
  for (const name of names) {
    const figure = document.createElement("figure");
    figure.className = "chart";
    const caption = document.createElement("figcaption");
    caption.textContent = units[name] ? `${name} (${units[name]})` : name;
    figure.append(caption);
    container.append(figure);
    charts.push(new window.uPlot({
      width, height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: "#37474f", grid: { stroke: "#eceff1" } },
        { stroke: "#37474f", grid: { stroke: "#eceff1" }, size: 44 }],
      series: [{}, { label: name, stroke: "#1565c0", width: 1.5, points: { show: series[name][0].length < 40 } }],
    }, series[name], figure));
  }
  return charts;
}
