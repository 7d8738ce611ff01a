// Signed-in idle timeout: warn a little before it, offer "Stay signed in", and say so when it
// has happened. The server is the judge (it ends idle sessions); this only keeps the shopper told.
(function () {
  "use strict";
  let expiresAt = 0;
  let minutes = 0;
  let timer = null;

  const warnBefore = () => Math.min(2 * 60 * 1000, (minutes * 60 * 1000) / 5);
  const notice = () => document.getElementById("notice");
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  // Addresses come from <body> (rendered with url_for), never spelled out here.
  const url = (name) => document.body.dataset[name];

  function schedule() {
    clearTimeout(timer);
    const left = expiresAt - Date.now();
    if (left <= 0) return checkThen(signedOut);
    const untilWarning = left - warnBefore();
    if (untilWarning > 0) {
      timer = setTimeout(schedule, untilWarning);
      return;
    }
    timer = setTimeout(schedule, left);
    checkThen(() => warn(left));
  }

  // Another tab of this browser may have kept the session alive: ask the server (without
  // renewing anything) before warning or saying the session has ended.
  async function checkThen(act) {
    try {
      const response = await fetch(url("sessionStatusUrl"), { credentials: "same-origin" });
      const status = await response.json();
      if (status.signed_in && status.seconds_left * 1000 > warnBefore()) {
        expiresAt = Date.now() + status.seconds_left * 1000;
        clearWarning();
        return schedule();
      }
      if (!status.signed_in) return signedOut();
    } catch (e) {
      // Unreachable server: fall back to this page's own clock.
    }
    act();
  }

  function warn(left) {
    const mins = Math.max(1, Math.round(left / 60000));
    notice().innerHTML =
      `<p class="notice warn" data-testid="session-warning">You will be signed out in about ${mins} ` +
      `${mins === 1 ? "minute" : "minutes"} because nothing happened for a while. ` +
      '<button type="button" class="stay" data-testid="stay-signed-in">Stay signed in</button></p>';
  }

  function signedOut() {
    clearTimeout(timer);
    expiresAt = 0;
    notice().innerHTML =
      '<p class="notice" data-testid="session-ended">You were signed out after a while without activity. ' +
      'Your cart is saved with your account: <a>sign in</a> to see it.</p>';
    notice().querySelector("[data-testid=session-ended] a").setAttribute("href", url("loginUrl"));
  }

  function clearWarning() {
    const warning = document.querySelector('[data-testid="session-warning"]');
    if (warning) warning.remove();
  }

  async function stay() {
    const response = await fetch(url("sessionRenewUrl"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
    });
    if (!response.ok) return signedOut();
    expiresAt = Date.now() + (await response.json()).seconds_left * 1000;
    clearWarning();
    notice().innerHTML = '<p class="notice">You stay signed in.</p>';
    schedule();
  }

  document.addEventListener("click", (evt) => {
    if (evt.target.closest(".stay")) stay();
  });

  // Any request this page makes counts as activity on the server; move our clock with it.
  // Listen on the request itself: the element that sent it may be swapped away (a pushed
  // copy of our own change can arrive first) before htmx reports the request done.
  document.addEventListener("htmx:beforeSend", (evt) => {
    const xhr = evt.detail.xhr;
    if (!expiresAt || !xhr) return;
    xhr.addEventListener("load", () => {
      if (xhr.status < 200 || xhr.status > 299) return;
      expiresAt = Date.now() + minutes * 60 * 1000;
      clearWarning();
      schedule();
    });
  });

  document.addEventListener("DOMContentLoaded", () => {
    const body = document.body;
    if (!body.dataset.sessionLeft) return;
    minutes = Number(body.dataset.sessionMinutes);
    // Relative to this browser's clock: the two machines' clocks need not agree.
    expiresAt = Date.now() + Number(body.dataset.sessionLeft) * 1000;
    schedule();
  });
})();
