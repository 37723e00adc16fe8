// Package ui is the operator's dashboard, served by the gateway itself at
// /ui on the admin listener: the models and their splits, a live
// comparison of the stable and candidate versions during a rollout
// (time-series charts pushed with server-sent events, and a breakdown by
// request category), the rollout's stages, verdicts and events, the shadow
// pairs for review, the audit log, and the data plane's client keys with
// their last day's usage (read-only).
//
// Everything the page needs is embedded in the binary: templates, script
// and style; there is no CDN and no outside request at run time. The
// charts are SVG drawn by a small vanilla script.
//
// People sign in by pasting an admin token. The server keeps a random
// session id, mapped to the SHA-256 of the token, in an HttpOnly,
// SameSite=Strict cookie: the secret itself is never stored nor sent back.
// Every read and every action goes through the admin API (api.Server's
// Delegate handler) on behalf of the signed-in token, so roles are
// enforced, and changes audited, exactly as for the CLI: a viewer sees
// everything and can change nothing. Changes also need the session's CSRF
// token and a same-origin request.
package ui
