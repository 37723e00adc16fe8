// Sign-in: the token goes once, in a POST body, and is not kept by the page.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const input = document.getElementById("token");
  const err = document.getElementById("login-error");
  // Why the last session ended: the message of the 401 that sent the
  // dashboard here (app.js keeps it for this tab), else what the gateway
  // says of the cookie this page was opened with.
  const notice = document.getElementById("login-notice");
  const why = sessionStorage.getItem("sluice-signed-out") || notice.dataset.notice;
  sessionStorage.removeItem("sluice-signed-out");
  if (why) {
    // The gateway's messages start in lower case, as errors do.
    notice.textContent = why.charAt(0).toUpperCase() + why.slice(1);
    notice.hidden = false;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    try {
      const resp = await fetch("/ui/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: input.value }),
      });
      input.value = "";
      if (!resp.ok) {
        const body = await resp.json().catch(() => ({}));
        throw new Error((body.error && body.error.message) || ("sign-in failed: HTTP " + resp.status));
      }
      // The address's #... (a link to a rollout) is kept. On /ui/ itself a
      // replace that differs only there would move to it without loading
      // the dashboard: load the page again instead.
      if (location.pathname === "/ui/") location.reload();
      else location.replace("/ui/" + location.hash);
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
});
