package sluice

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// StageChange moves one version to another lifecycle stage.
type StageChange struct {
	// ID is the full version id.
	ID string `json:"id"`
	// Stage is the new stage.
	Stage Stage `json:"stage"`
	// SunsetAt is the announced retirement time for a deprecated version.
	SunsetAt time.Time `json:"sunset_at,omitzero"`
}

// Change is everything one committed edit writes, applied by a Store in one
// transaction: all of it or none.
type Change struct {
	// BaseRevision is the registry revision the change was computed from.
	// Commit fails with CodeConflict when the store has moved past it.
	BaseRevision int64
	// NewVersions are inserted; none may exist yet.
	NewVersions []Version
	// Stages are applied to existing versions.
	Stages []StageChange
	// Models are created or replaced whole (policy, labels, rules).
	Models []Model
	// Rollouts are created or replaced whole, by ID.
	Rollouts []Rollout
	// Audit entries are appended; the store sets their ID and, if zero, At.
	Audit []AuditEntry
	// Stamp, when set, dates the change: the store calls it once inside
	// the transaction, after it holds the write lock and has made the
	// other writes, just before COMMIT, and its time becomes every audit
	// entry's At, the UpdatedAt of every model in Models and the CreatedAt
	// of every version in NewVersions (see StampTime), so the registry and
	// the audit log give the change one time. A change dated when the edit
	// was prepared would claim to be in force before it could serve: the
	// store may first wait for its lock (another writer, another replica),
	// and the data plane switches only once the commit returns.
	Stamp func() time.Time
	// Unheld names fleet-wide holds (such as a fire drill's, see
	// postgres.Store.TryHold) that must be free when the change commits.
	// A store that several processes share looks at each inside the
	// change's own transaction and keeps it from being taken until the
	// COMMIT, so no process takes it between the look and the commit, and
	// the look needs no connection besides the transaction's; when another
	// process holds one, Commit returns its Refusal and writes nothing. A
	// store only one process uses (SQLite) has no holds, and ignores them.
	Unheld []Unheld
}

// Unheld is a hold a change needs free (Change.Unheld).
type Unheld struct {
	// Name names the hold as the store's TryHold does ("drill:chat").
	Name string
	// Refusal is what Commit returns when another process holds it: a
	// sentence for the user, such as a CodeConflict naming what holds it.
	Refusal error
}

// StampTime calls Stamp, once, and returns its time in UTC; zero when
// Stamp is nil, and then the change keeps the times its edit gave it.
func (c *Change) StampTime() time.Time {
	if c.Stamp == nil {
		return time.Time{}
	}
	return c.Stamp().UTC()
}

// StampedAudit returns the audit entries to write, each dated at when it
// is not zero (the time StampTime returned), as is the created_at of the
// version a version.register entry holds.
func (c *Change) StampedAudit(at time.Time) []AuditEntry {
	if at.IsZero() || len(c.Audit) == 0 {
		return c.Audit
	}
	out := slices.Clone(c.Audit)
	for i := range out {
		out[i].At = at
		if out[i].Action != "version.register" {
			continue
		}
		// The version registered is stored dated at (StampRegistry): its
		// audit entry's document said the time the edit was prepared,
		// which disagreed with both the entry and the version.
		var v Version
		if json.Unmarshal(out[i].After, &v) == nil {
			v.CreatedAt = at
			if b, err := json.Marshal(v); err == nil {
				out[i].After = b
			}
		}
	}
	return out
}

// StampRegistry dates, in reg (the registry the change's edit left), what
// the store dated at when it committed the change: the models it wrote and
// the versions it registered. A zero at changes nothing.
func (c *Change) StampRegistry(reg *Registry, at time.Time) {
	if at.IsZero() {
		return
	}
	for _, m := range c.Models {
		if cur := reg.Models[m.Name]; cur != nil {
			mc := cur.Clone()
			mc.UpdatedAt = at
			reg.Models[m.Name] = &mc
		}
	}
	for _, v := range c.NewVersions {
		if cur := reg.Versions[v.ID()]; cur != nil {
			vc := cur.Clone()
			vc.CreatedAt = at
			reg.Versions[v.ID()] = &vc
		}
	}
}

// Empty reports whether the change writes nothing but possibly audit.
func (c *Change) Empty() bool {
	return len(c.NewVersions) == 0 && len(c.Stages) == 0 && len(c.Models) == 0 && len(c.Rollouts) == 0
}

// Edit builds one change against a registry: each operation is checked
// against the state the earlier operations left, and Finish checks every
// touched model once more, so a change is applied whole or refused whole.
type Edit struct {
	// Actor and Reason go into every audit entry.
	Actor, Reason string
	// Now stamps new versions, models and audit entries, unless the
	// change is dated at its commit (Change.Stamp, as the control service
	// does); it is also the time the edit's checks are made at.
	Now time.Time

	base    *Registry
	next    *Registry
	change  Change
	touched map[string]bool
}

// Edit starts an edit on a copy of r. The reason is required for any change
// that Finish returns.
func (r *Registry) Edit(actor, reason string, now time.Time) *Edit {
	return &Edit{Actor: actor, Reason: reason, Now: now.UTC(), base: r, next: r.Clone(), change: Change{BaseRevision: r.Revision}, touched: map[string]bool{}}
}

// Registry returns the registry as the edit has left it so far.
func (e *Edit) Registry() *Registry { return e.next }

func (e *Edit) audit(action, model, subject string, before, after any) {
	a := AuditEntry{At: e.Now, Actor: e.Actor, Action: action, Model: model, Subject: subject, Reason: e.Reason}
	if before != nil {
		a.Before, _ = json.Marshal(before)
	}
	if after != nil {
		a.After, _ = json.Marshal(after)
	}
	e.change.Audit = append(e.change.Audit, a)
}

// RequireUnheld has the change commit only while no other process holds
// the fleet-wide hold name, and be refused with refusal, writing nothing,
// when one does (see Change.Unheld).
func (e *Edit) RequireUnheld(name string, refusal error) {
	e.change.Unheld = append(e.change.Unheld, Unheld{Name: name, Refusal: refusal})
}

// AddAudit appends a free-form audit entry to the change (for actions such as
// rollout decisions that write through the same transaction).
func (e *Edit) AddAudit(action, model, subject string, before, after any) {
	e.audit(action, model, subject, before, after)
}

// RegisterVersion registers v, creating its model (policy latest) when the
// model is new. Registering an identical version again changes nothing and
// returns created=false; the same id with other content is a CodeConflict
// naming the differing fields. A stage given on registration is the initial
// stage (development when none is given); for an existing version a
// different stage is a lifecycle change, and no stage leaves it where it
// is, so a model file applied again after a promotion changes nothing.
func (e *Edit) RegisterVersion(v Version) (created bool, err error) {
	v = v.Clone()
	if err := v.Validate(); err != nil {
		return false, err
	}
	old := e.next.Versions[v.ID()]
	if stage := v.Stage; !v.SunsetAt.IsZero() {
		if stage == "" && old != nil {
			stage = old.Stage
		}
		switch stage {
		case StageDeprecated:
		case StageRetired:
			// The sunset of a version since retired, left in the model
			// file: it announces nothing any more, and is dropped.
			v.SunsetAt = time.Time{}
		default:
			return false, sunsetNeedsDeprecation(v.ID(), cmp.Or(stage, StageDevelopment))
		}
	}
	if old != nil {
		if diff := old.ContentDiff(&v); len(diff) > 0 {
			if len(diff) == 1 && diff[0] == "endpoints" {
				// The same build at another address (a mistyped port,
				// a server moved): there is no new build to name.
				return false, &Error{Code: CodeConflict, Fields: diff, Message: "version " + v.ID() + " is already registered with other endpoints, and a version's endpoints cannot be changed in place (a pin, the request log and the audit name what served by the version): register it under a new version tag with the endpoints you want, and retire this one if it is not to serve (sluice stage " + v.ID() + " retired)"}
			}
			return false, &Error{Code: CodeConflict, Fields: diff, Message: "version " + v.ID() + " is already registered with different " + joinFields(diff) + ": versions are immutable, so register the new build under a new version tag"}
		}
		if v.Stage != "" && v.Stage != old.Stage {
			return false, e.SetStage(v.ID(), v.Stage, v.SunsetAt)
		}
		// A deprecated version's announced sunset moved in the file (one
		// left out keeps the stored date).
		if old.Stage == StageDeprecated && !v.SunsetAt.IsZero() && !v.SunsetAt.Equal(old.SunsetAt) {
			return false, e.SetStage(v.ID(), StageDeprecated, v.SunsetAt)
		}
		return false, nil
	}
	for _, ep := range v.Endpoints {
		// Only for a new version: one registered so is kept, as
		// versions are, and a file that lists it still applies.
		if err := checkEndpointBase(v.ID(), ep); err != nil {
			return false, err
		}
	}
	if v.Stage == "" {
		v.Stage = StageDevelopment
	}
	if err := pastSunset(v.SunsetAt, time.Time{}, e.Now); err != nil {
		return false, err
	}
	if e.next.Models[v.Model] == nil {
		if err := e.PutModel(Model{Name: v.Model, Policy: Policy{Kind: PolicyLatest}}); err != nil {
			return false, err
		}
	}
	v.CreatedAt = e.Now
	e.next.Versions[v.ID()] = &v
	e.change.NewVersions = append(e.change.NewVersions, v)
	e.touched[v.Model] = true
	e.audit("version.register", v.Model, v.ID(), nil, v)
	return true, nil
}

func joinFields(f []string) string {
	switch len(f) {
	case 1:
		return f[0]
	default:
		s := ""
		for i, x := range f {
			switch {
			case i == 0:
			case i == len(f)-1:
				s += " and "
			default:
				s += ", "
			}
			s += x
		}
		return s
	}
}

// SetStage moves version id to stage to, following the lifecycle. sunset is
// the announced retirement time of a deprecated version (zero: none).
func (e *Edit) SetStage(id string, to Stage, sunset time.Time) error {
	v := e.next.Versions[id]
	if v == nil {
		return Errorf(CodeNotFound, "version %s is not registered: list versions with sluice get versions", id)
	}
	if err := CheckTransition(v.Stage, to); err != nil {
		return err
	}
	if r := e.next.Rollouts[v.Model]; to == StageRetired && r != nil && r.Phase.Active() && (r.Spec.Candidate == v.Version || r.Spec.Baseline == v.Version) {
		// A retired candidate cannot go live, and the rollout would wait
		// for it for ever (warming or mirroring).
		return Errorf(CodeConflict, "version %s is in rollout %s (phase %s): abort the rollout first (sluice rollout abort %s --reason \"…\"), then retire it", id, r.ID, r.Phase, v.Model)
	}
	if r := e.next.Rollouts[v.Model]; to == StageRetired && r != nil && r.Phase == PhasePromoted && r.Spec.Baseline == v.Version &&
		e.Now.Before(r.EndedAt.Add(r.Spec.RollbackWindow.D())) {
		// The rollout's undo puts traffic back on it: keep it until the
		// rollback window closes.
		return Errorf(CodeConflict, "version %s is what rollout %s would undo to until %s (its rollback window): retire it after that, or deprecate it now", id, r.ID, r.EndedAt.Add(r.Spec.RollbackWindow.D()).UTC().Format(time.RFC3339))
	}
	if !sunset.IsZero() && to != StageDeprecated {
		if to != StageRetired {
			return sunsetNeedsDeprecation(id, to)
		}
		sunset = time.Time{} // a retired version's sunset announces nothing
	}
	if v.Stage == to && v.SunsetAt.Equal(sunset) {
		return nil
	}
	if to == StageDeprecated {
		if err := pastSunset(sunset, v.SunsetAt, e.Now); err != nil {
			return err
		}
	}
	before := map[string]any{"stage": v.Stage}
	if !v.SunsetAt.IsZero() {
		before["sunset_at"] = v.SunsetAt
	}
	v.Stage = to
	v.SunsetAt = sunset.UTC()
	if to != StageDeprecated {
		v.SunsetAt = time.Time{}
	}
	e.change.Stages = append(e.change.Stages, StageChange{ID: id, Stage: to, SunsetAt: v.SunsetAt})
	e.touched[v.Model] = true
	e.audit("version.stage", v.Model, id, before, stageAudit(to, v.SunsetAt))
	return nil
}

// stageAudit is a version.stage entry's after: the stage, and the sunset
// only when there is one (a zero time read as a sunset in year 1).
func stageAudit(stage Stage, sunset time.Time) map[string]any {
	after := map[string]any{"stage": stage}
	if !sunset.IsZero() {
		after["sunset_at"] = sunset
	}
	return after
}

// UndoPromotion moves version id from production back to stage from, the
// stage a rollout's promotion took it from, as the undo of that rollout
// does: the undo takes the version's traffic away, and left in production
// it looked released (and policy latest would pick it again). It is the
// one way back from production to staging or development, which the
// lifecycle refuses by hand. A version no longer in production (moved by
// hand since) is left where it is, as is one whose earlier stage is
// production itself, unknown ("") or retired. A deprecated version's
// earlier sunset is not kept by a promotion, so it comes back without one.
func (e *Edit) UndoPromotion(id string, from Stage) error {
	v := e.next.Versions[id]
	if v == nil {
		return Errorf(CodeNotFound, "version %s is not registered: list versions with sluice get versions", id)
	}
	if v.Stage != StageProduction || !from.Servable() || from == StageProduction {
		return nil
	}
	before := map[string]any{"stage": v.Stage}
	v.Stage = from
	v.SunsetAt = time.Time{}
	e.change.Stages = append(e.change.Stages, StageChange{ID: id, Stage: from})
	e.touched[v.Model] = true
	e.audit("version.stage", v.Model, id, before, stageAudit(from, v.SunsetAt))
	return nil
}

// pastSunset refuses a new sunset (one other than stored) before now: a
// sunset is announced to clients (the Sunset header), and one already past
// tells them nothing true.
func pastSunset(sunset, stored, now time.Time) error {
	if sunset.IsZero() || sunset.Equal(stored) || !sunset.Before(now) {
		return nil
	}
	return &Error{Code: CodeInvalid, Fields: []string{"sunset_at"}, Message: fmt.Sprintf("the sunset %s is in the past: announce a future date, or leave it out", sunset.UTC().Format(time.RFC3339))}
}

// sunsetNeedsDeprecation is the error for a sunset given to a version that
// would not be deprecated: a sunset announces a deprecated version's
// retirement, and kept on another stage it would be announced by surprise
// on a later deprecation (or silently dropped).
func sunsetNeedsDeprecation(id string, stage Stage) error {
	return &Error{Code: CodeInvalid, Fields: []string{"sunset_at"}, Message: fmt.Sprintf("version %s would be %s, but sunset_at only applies to a deprecated version: deprecate it first, or set stage: deprecated together with sunset_at (sluice stage %s deprecated --sunset TIME), or drop sunset_at", id, stage, id)}
}

// PutModel creates model m or replaces its description, policy, labels and
// rules. Replacing with identical routing changes nothing.
func (e *Edit) PutModel(m Model) error {
	if err := CheckName("model name", m.Name); err != nil {
		return err
	}
	m = m.Clone()
	if m.Policy.Kind == "" {
		m.Policy.Kind = PolicyLatest
	}
	if len(m.Labels) == 0 {
		m.Labels = nil
	}
	old := e.next.Models[m.Name]
	if old != nil {
		m.UpdatedAt = old.UpdatedAt
		if reflect.DeepEqual(*old, m) {
			return nil
		}
	}
	if err := checkModelText(old, &m); err != nil {
		return err
	}
	m.UpdatedAt = e.Now
	e.next.Models[m.Name] = &m
	e.change.Models = slices.DeleteFunc(e.change.Models, func(x Model) bool { return x.Name == m.Name })
	e.change.Models = append(e.change.Models, m)
	e.touched[m.Name] = true
	if old == nil {
		e.audit("model.create", m.Name, "", nil, routing(&m))
	} else {
		e.audit(modelAction(old, &m), m.Name, "", routing(old), routing(&m))
	}
	return nil
}

// checkModelText refuses text both stores cannot keep (CheckText) in what
// m changes from old: text stored before the check existed blocks no later
// change, a rollback above all.
func checkModelText(old, m *Model) error {
	var was Model
	if old != nil {
		was = *old
	}
	bad := func(field, now, before string) error {
		if now == before {
			return nil
		}
		if err := CheckText(field, now); err != nil {
			return Errorf(CodeInvalid, "model %s: %s", m.Name, ErrorMessage(err))
		}
		return nil
	}
	if err := bad("description", m.Description, was.Description); err != nil {
		return err
	}
	if err := bad("policy.salt", m.Policy.Salt, was.Policy.Salt); err != nil {
		return err
	}
	if !reflect.DeepEqual(m.Rules, was.Rules) {
		for i, r := range m.Rules {
			for _, v := range r.Values {
				if err := CheckText(fmt.Sprintf("rules[%d].values", i), v); err != nil {
					return Errorf(CodeInvalid, "model %s: %s", m.Name, ErrorMessage(err))
				}
			}
		}
	}
	return nil
}

// routing is what the audit log keeps of a model: enough to answer "which
// version served it at time T", and its description when it has one.
func routing(m *Model) map[string]any {
	out := map[string]any{"policy": m.Policy, "labels": m.Labels, "rules": m.Rules}
	if m.Description != "" {
		out["description"] = m.Description
	}
	return out
}

func modelAction(old, m *Model) string {
	switch {
	case !reflect.DeepEqual(old.Policy, m.Policy):
		return "model.policy"
	case !reflect.DeepEqual(old.Labels, m.Labels):
		return "model.labels"
	case !reflect.DeepEqual(old.Rules, m.Rules):
		return "model.rules"
	}
	return "model.update"
}

// model returns a copy of the named model for modification, or NotFound.
func (e *Edit) model(name string) (Model, error) {
	m := e.next.Models[name]
	if m == nil {
		return Model{}, Errorf(CodeNotFound, "model %q is not registered: list models with sluice get models", name)
	}
	return m.Clone(), nil
}

// SetPolicy replaces model's policy. The model keeps its salt unless p sets
// one, whatever the policy kinds: a split set again after a detour through
// another policy (a pin during an incident) puts each user back where they
// were. The salt lives in the policy, so the store, the audit entries'
// routing and a rollback to a previous policy all carry it.
func (e *Edit) SetPolicy(model string, p Policy) error {
	m, err := e.model(model)
	if err != nil {
		return err
	}
	if p.Salt == "" {
		p.Salt = m.Policy.Salt
	}
	m.Policy = p
	return e.PutModel(m)
}

// SetSplit sets model's policy to a weighted split.
func (e *Edit) SetSplit(model string, weights []Weight) error {
	return e.SetPolicy(model, Policy{Kind: PolicySplit, Split: weights})
}

// SetLabel points label at version tag; an empty tag removes the label.
func (e *Edit) SetLabel(model, label, tag string) error {
	if err := CheckName("label", label); err != nil {
		return err
	}
	m, err := e.model(model)
	if err != nil {
		return err
	}
	if tag == "" {
		if _, ok := m.Labels[label]; !ok {
			if len(m.Labels) == 0 {
				return Errorf(CodeNotFound, "model %s has no label %q, nor any other: there is nothing to remove", model, label)
			}
			return Errorf(CodeNotFound, "model %s has no label %q: its labels are %s", model, label, strings.Join(slices.Sorted(maps.Keys(m.Labels)), ", "))
		}
		delete(m.Labels, label)
	} else {
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		m.Labels[label] = tag
	}
	return e.PutModel(m)
}

// SetRules replaces model's header rules.
func (e *Edit) SetRules(model string, rules []Rule) error {
	m, err := e.model(model)
	if err != nil {
		return err
	}
	m.Rules = rules
	return e.PutModel(m)
}

// PutRollout creates or replaces a rollout (by ID) as the model's latest.
// The caller records what changed with AddAudit.
func (e *Edit) PutRollout(r Rollout) error {
	if e.next.Models[r.Spec.Model] == nil {
		return Errorf(CodeNotFound, "model %q is not registered", r.Spec.Model)
	}
	if cur := e.next.Rollouts[r.Spec.Model]; cur != nil && cur.ID != r.ID && cur.Phase.Active() {
		return Errorf(CodeConflict, "model %s already has rollout %s in phase %s: abort it or wait for it to end before starting another", r.Spec.Model, cur.ID, cur.Phase)
	}
	r = r.Clone()
	r.UpdatedAt = e.Now
	if e.next.Rollouts == nil {
		e.next.Rollouts = map[string]*Rollout{}
	}
	e.next.Rollouts[r.Spec.Model] = &r
	e.change.Rollouts = slices.DeleteFunc(e.change.Rollouts, func(x Rollout) bool { return x.ID == r.ID })
	e.change.Rollouts = append(e.change.Rollouts, r)
	return nil
}

// Finish validates every model the edit touched against the final state and
// returns the change to commit. A change with writes needs a reason.
func (e *Edit) Finish() (Change, error) {
	for _, name := range slices.Sorted(mapsKeys(e.touched)) {
		if err := e.next.ValidateModel(name); err != nil {
			if r := e.retiredWhileRouted(name); r != nil {
				return Change{}, r
			}
			return Change{}, err
		}
		// A model that served a version must still serve one: moving the
		// only production version of a model under policy latest to
		// deprecated or retired would leave its bare name answering
		// nothing.
		// Policy off is the way to mean it.
		// Nor may a model taken out of service come back serving nothing.
		wasOff := e.base.Models[name] != nil && e.base.Models[name].Policy.Kind == PolicyOff
		if wasOff && e.next.Models[name].Policy.Kind != PolicyOff && len(e.next.ServingVersions(name)) == 0 {
			return Change{}, Errorf(CodeInvalid, "model %s would still serve nothing under policy %s (no production version to serve): promote a version to production first (sluice stage %s:VERSION production), or set policy specific VERSION", name, e.next.Models[name].Policy, name)
		}
		if len(e.base.ServingVersions(name)) > 0 && len(e.next.ServingVersions(name)) == 0 && e.next.Models[name].Policy.Kind != PolicyOff {
			return Change{}, Errorf(CodeInvalid, "model %s would serve nothing after this change (policy %s, and no production version left to serve): promote another version to production first (sluice stage %s:VERSION production), or point the policy at one; to take the model out of service on purpose, set its policy to off first (sluice set policy %s off)", name, e.next.Models[name].Policy, name, name)
		}
	}
	if (!e.change.Empty() || len(e.change.Audit) > 0) && e.Reason == "" {
		return Change{}, &Error{Code: CodeInvalid, Fields: []string{"reason"}, Message: "a reason is required for every change: pass --reason \"why\" (it goes into the audit log)"}
	}
	e.next.Revision = e.change.BaseRevision
	return e.change, nil
}

// retiredWhileRouted returns the refusal of an edit that retires a version
// of model name that its routing still names (the policy, a label, a rule),
// saying what names it and how to take it out; nil when the edit retires
// none such. ValidateModel's own error read as if the split were being set
// to a retired version.
func (e *Edit) retiredWhileRouted(name string) error {
	m := e.next.Models[name]
	if m == nil {
		return nil
	}
	for _, sc := range e.change.Stages {
		v := e.next.Versions[sc.ID]
		if sc.Stage != StageRetired || v == nil || v.Model != name {
			continue
		}
		if old := e.base.Versions[sc.ID]; old == nil || !old.Stage.Servable() {
			continue
		}
		var refs, fixes []string
		switch p := m.Policy; {
		case p.Kind == PolicySpecific && p.Version == v.Version:
			refs = append(refs, "the policy ("+p.String()+")")
			fixes = append(fixes, "sluice set policy "+name+" specific VERSION")
		case p.Kind == PolicySplit && slices.ContainsFunc(p.Split, func(w Weight) bool { return w.Version == v.Version }):
			refs = append(refs, "the split ("+strings.TrimPrefix(p.String(), "split ")+")")
			fixes = append(fixes, "sluice set split "+name+" VERSION=PERCENT … without it")
		}
		for _, l := range slices.Sorted(maps.Keys(m.Labels)) {
			if m.Labels[l] == v.Version {
				refs = append(refs, "label "+l)
				fixes = append(fixes, "sluice label "+name+" "+l+"=VERSION, or "+l+"- to remove it")
			}
		}
		for i, rule := range m.Rules {
			if rule.Version == v.Version {
				refs = append(refs, fmt.Sprintf("rule %d", i+1))
			}
		}
		if len(refs) == 0 {
			continue
		}
		if len(fixes) < len(refs) {
			fixes = append(fixes, "the model file's rules")
		}
		verb := "routes"
		if len(refs) > 1 {
			verb = "route"
		}
		return Errorf(CodeInvalid, "%s cannot be retired while %s of %s %s to it: take it out first (%s), then retire it", sc.ID, joinFields(refs), name, verb, strings.Join(fixes, "; "))
	}
	return nil
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
