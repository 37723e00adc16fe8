package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// AlertTester sends a test alert to every alert webhook of the gateway's
// config, once each, and says what each did (*rollout.Webhooks).
type AlertTester interface {
	Test(ctx context.Context, a rollout.Alert) []rollout.Delivery
}

// AlertTestRequest asks for a test alert.
type AlertTestRequest struct {
	// Severity is the test alert's: info (the default), warning or
	// critical, to check a webhook's severity routing at the receiver.
	Severity string `json:"severity,omitempty"`
	// Reason goes into the audit entry and the alert; default "test of
	// the alert webhooks".
	Reason string `json:"reason,omitempty"`
}

// AlertTestResult is what each alert webhook did with the test alert, in
// the config's order.
type AlertTestResult struct {
	Deliveries []rollout.Delivery `json:"deliveries"`
}

// testAlerts sends a test alert to each configured alert webhook (one
// attempt each, whatever their filters) and answers what each did,
// audited as alert.test.
func (s *Server) testAlerts(w http.ResponseWriter, r *http.Request) error {
	if s.alerts == nil {
		return sluice.Errorf(sluice.CodeUnavailable, "this gateway sends no rollout alerts")
	}
	var req AlertTestRequest
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
	}
	if req.Severity == "" {
		req.Severity = "info"
	}
	if sluice.AlertSeverityRank(req.Severity) < 0 {
		return invalid("severity", fmt.Sprintf("%q is not one of %s", req.Severity, strings.Join(sluice.AlertSeverities, ", ")))
	}
	if strings.TrimSpace(req.Reason) == "" {
		req.Reason = "test of the alert webhooks"
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	who := actor(r)
	a := rollout.Alert{Severity: req.Severity, Message: fmt.Sprintf("a test alert sent by %s with sluice alert test (%s); no rollout moved, nothing to do", who, req.Reason), At: s.now().UTC()}
	res := AlertTestResult{Deliveries: s.alerts.Test(r.Context(), a)}
	if res.Deliveries == nil {
		res.Deliveries = []rollout.Delivery{}
	}
	if _, err := s.ctl.Do(r.Context(), who, req.Reason, func(e *sluice.Edit) error {
		e.AddAudit("alert.test", "", "", nil, map[string]any{"severity": req.Severity, "deliveries": res.Deliveries})
		return nil
	}); err != nil {
		return fmt.Errorf("audit the test alert (sent): %w", err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
