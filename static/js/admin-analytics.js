// The back office's analytics charts (templates/admin/analytics.html), drawn with Chart.js
// (static/vendor/chart-*.umd.min.js, loaded before this file) from the page's JSON block
// #analytics-data: the same numbers as the table beside each chart, which is what a screen
// reader, a keyboard user or a page without JavaScript reads. Each canvas carries its own
// summary in aria-label; the charts add nothing a table does not say.
(function () {
  "use strict";

  // Okabe–Ito colours: told apart with the common colour-vision deficiencies, each at least
  // 3:1 against white; a series is also told apart by its kind (bar, line) or its legend.
  const BLUE = "#0072b2";
  const ORANGE = "#d55e00";
  const GREEN = "#009e73";
  const PURPLE = "#8e4b8e";
  const INK = "#1d232b";

  function readData() {
    const block = document.getElementById("analytics-data");
    return block ? JSON.parse(block.textContent) : null;
  }

  function moneyFormat(data) {
    try {
      return new Intl.NumberFormat(data.locale, { style: "currency", currency: data.currency });
    } catch (error) {
      return { format: (value) => `${value} ${data.currency}` };
    }
  }

  function shortDay(iso) {
    // "2026-12-01" -> "Tue 1 Dec", read as a calendar day (no time zone shift).
    const [year, month, day] = iso.split("-").map(Number);
    const date = new Date(Date.UTC(year, month - 1, day));
    return date.toLocaleDateString(undefined, {
      weekday: "short",
      day: "numeric",
      month: "short",
      timeZone: "UTC",
    });
  }

  const integerTicks = { precision: 0 };

  function shorten(text, length) {
    return text.length > length ? `${text.slice(0, length - 1)}…` : text;
  }

  function salesChart(canvas, data, money) {
    return new Chart(canvas, {
      data: {
        labels: data.days.map(shortDay),
        datasets: [
          {
            type: "bar",
            label: "Orders placed",
            data: data.orders,
            backgroundColor: BLUE,
            yAxisID: "orders",
            order: 2,
          },
          {
            type: "line",
            label: "Revenue",
            data: data.revenue.map(Number),
            borderColor: ORANGE,
            backgroundColor: ORANGE,
            pointRadius: data.days.length > 62 ? 0 : 3,
            tension: 0.2,
            yAxisID: "revenue",
            order: 1,
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          orders: {
            position: "left",
            beginAtZero: true,
            ticks: integerTicks,
            title: { display: true, text: "Orders" },
          },
          revenue: {
            position: "right",
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            ticks: { callback: (value) => money.format(value) },
            title: { display: true, text: "Revenue" },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) =>
                item.dataset.yAxisID === "revenue"
                  ? `Revenue: ${money.format(item.parsed.y)}`
                  : `${item.dataset.label}: ${item.parsed.y}`,
            },
          },
        },
      },
    });
  }

  function funnelChart(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.funnel.labels,
        datasets: [{ label: "Shoppers", data: data.funnel.shoppers, backgroundColor: [BLUE, PURPLE, GREEN] }],
      },
      options: {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: integerTicks, title: { display: true, text: "Shoppers" } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              afterLabel: (item) => {
                const first = data.funnel.shoppers[0];
                if (!first || item.dataIndex === 0) return "";
                return `${((item.parsed.x / first) * 100).toFixed(1)} % of those who added to cart`;
              },
            },
          },
        },
      },
    });
  }

  function abandonmentChart(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.days.map(shortDay),
        datasets: [
          { label: "Abandoned carts", data: data.abandoned, backgroundColor: ORANGE },
          { label: "Reminders sent", data: data.reminders, backgroundColor: BLUE },
          { label: "Carts recovered", data: data.recovered, backgroundColor: GREEN },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: integerTicks, title: { display: true, text: "Carts" } } },
      },
    });
  }

  function productsChart(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.products.labels,
        datasets: [
          { label: "Units added to carts", data: data.products.added, backgroundColor: BLUE },
          { label: "Units ordered", data: data.products.ordered, backgroundColor: GREEN },
        ],
      },
      options: {
        indexAxis: "y",
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { beginAtZero: true, ticks: integerTicks, title: { display: true, text: "Units" } },
          // A long name is cut on the axis (the tooltip and the table have it whole).
          y: { ticks: { callback: (value) => shorten(data.products.labels[value], 24) } },
        },
      },
    });
  }

  const CHARTS = {
    sales: salesChart,
    funnel: funnelChart,
    abandonment: abandonmentChart,
    products: productsChart,
  };

  document.addEventListener("DOMContentLoaded", () => {
    const data = readData();
    if (!data || typeof Chart === "undefined") return; // the tables still say it all
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    Chart.defaults.color = INK;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.maintainAspectRatio = false; // the box's height is set in site.css
    Chart.defaults.animation = reduceMotion ? false : { duration: 400 };
    const money = moneyFormat(data);
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const draw = CHARTS[canvas.dataset.chart];
      if (!draw) return;
      draw(canvas, data, money);
      canvas.dataset.drawn = "true"; // for tests: the chart is on the canvas
    });
  });
})();
