// How long a pending order's stock is still held, counting down wherever it is shown (the
// order page, and the notice pushed to the shopper's other devices). The time itself is in the
// element's text, so it reads without JavaScript; this adds what is left, once a minute in
// words for screen readers (the element is not a live region: a ticking announcement would be
// noise) and by the second on screen.
(function () {
  "use strict";

  function left(ms) {
    if (ms <= 0) return "time is up";
    const minutes = Math.floor(ms / 60000);
    const seconds = Math.floor((ms % 60000) / 1000);
    if (minutes >= 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
    return `${minutes}:${String(seconds).padStart(2, "0")} left`;
  }

  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach((el) => {
      if (!el.dataset.at) el.dataset.at = el.textContent;
      const ms = Date.parse(el.getAttribute("datetime")) - Date.now();
      el.textContent = `${el.dataset.at} (${left(ms)})`;
      el.dataset.state = ms <= 0 ? "expired" : "counting";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    tick();
    setInterval(tick, 1000);
  });
})();
