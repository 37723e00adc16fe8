package deploy_test

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dockerInstr is one instruction of a Dockerfile, its continuation lines
// joined.
type dockerInstr struct {
	line int
	op   string // upper case: FROM, RUN, ...
	args string
}

// dockerStage is a FROM and the instructions after it.
type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

// parseDockerfile reads the stages of a Dockerfile: comments and blank
// lines dropped, lines ending in a backslash joined with the next.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := dockerInstr{line: start, op: strings.ToUpper(op), args: strings.TrimSpace(args)}
		if in.op == "FROM" {
			f := strings.Fields(in.args)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before any FROM", path, in.line, in.op)
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", path)
	}
	return stages
}

// last returns the last instruction op of the stage, or nil.
func (s *dockerStage) last(op string) *dockerInstr {
	for i := len(s.instrs) - 1; i >= 0; i-- {
		if s.instrs[i].op == op {
			return &s.instrs[i]
		}
	}
	return nil
}

// execForm decodes an instruction's JSON (exec form) argument list; the
// shell form would need a shell, which distroless has not.
func execForm(t *testing.T, in *dockerInstr) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s is not the exec form [\"...\"] (the image has no shell): %v", in.line, in.op, in.args, err)
	}
	return argv
}

// goBuild is the Dockerfile's `go build` command: its environment
// assignments and its arguments after "go build".
type goBuild struct {
	env  []string
	args []string
	out  string // the -o path
}

var goBuildRE = regexp.MustCompile(`^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)go build\s+(.*)$`)

func findGoBuild(t *testing.T, st *dockerStage) goBuild {
	t.Helper()
	for _, in := range st.instrs {
		if in.op != "RUN" {
			continue
		}
		m := goBuildRE.FindStringSubmatch(in.args)
		if m == nil {
			continue
		}
		gb := goBuild{env: strings.Fields(m[1]), args: strings.Fields(m[2])}
		for i, a := range gb.args {
			if a == "-o" && i+1 < len(gb.args) {
				gb.out = gb.args[i+1]
			}
		}
		return gb
	}
	t.Fatalf("Dockerfile: the %s stage has no RUN [VAR=value ...] go build ...", st.name)
	return goBuild{}
}

// TestDockerfile_MatchesTheDeployment: the image the Dockerfile builds
// runs as deploy/kubernetes/deployment.yaml expects: the Deployment's
// command and args are the image's ENTRYPOINT and CMD (so docker run and
// the pod run the same thing), the config path in them is where the
// ConfigMap is mounted, the image's user is the pod's runAsUser and
// runAsGroup, the exposed port is the containerPort the ConfigMap listens
// on, the entrypoint is the binary the build stage built, statically, on
// the Go of go.mod.
func TestDockerfile_MatchesTheDeployment(t *testing.T) {
	stages := parseDockerfile(t, "../Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stage(s); want a Go build stage and the runtime stage", len(stages))
	}
	build, final := &stages[0], &stages[len(stages)-1]
	m := loadManifests(t)
	c := m.dep.Spec.Template.Spec.Containers[0]
	pod := m.dep.Spec.Template.Spec.SecurityContext

	// The Go toolchain: go.mod's go version, major.minor.
	gm, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	gv := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?\s*$`).FindSubmatch(gm)
	if gv == nil {
		t.Fatal("go.mod has no go line")
	}
	goMinor := string(gv[1])
	if img, tag, _ := strings.Cut(build.from, ":"); img != "golang" || (tag != goMinor && !strings.HasPrefix(tag, goMinor+".") && !strings.HasPrefix(tag, goMinor+"-")) {
		t.Errorf("Dockerfile: the build stage is FROM %s; want golang:%s (go.mod says go %s%s)", build.from, goMinor, gv[1], gv[2])
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
		t.Errorf("Dockerfile: the image is FROM %s; want gcr.io/distroless/static-debian12:nonroot (no libc: the binary must be static)", final.from)
	}

	gb := findGoBuild(t, build)
	if !slices.Contains(gb.env, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile: go build runs with %v; want CGO_ENABLED=0 (with cgo the binary needs a libc that distroless/static has not)", gb.env)
	}
	if !slices.Contains(gb.args, "-trimpath") || gb.args[len(gb.args)-1] != "./cmd/sluice" || gb.out == "" {
		t.Errorf("Dockerfile: go build %v; want -trimpath, -o PATH and ./cmd/sluice last", gb.args)
	}

	// The entrypoint is the built binary, copied from the build stage.
	entry := final.last("ENTRYPOINT")
	cmd := final.last("CMD")
	if entry == nil || cmd == nil {
		t.Fatal("Dockerfile: the image needs an ENTRYPOINT (the binary) and a CMD (serve with the config)")
	}
	ep, args := execForm(t, entry), execForm(t, cmd)
	copied := false
	for _, in := range final.instrs {
		f := strings.Fields(in.args)
		if in.op == "COPY" && len(f) == 3 && f[0] == "--from="+build.name && f[1] == gb.out && len(ep) > 0 && f[2] == ep[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("Dockerfile: no COPY --from=%s %s %v: the ENTRYPOINT is not the binary go build wrote", build.name, gb.out, ep)
	}

	// The Deployment runs what docker run runs.
	if c.Command != nil && !slices.Equal(c.Command, ep) {
		t.Errorf("deployment.yaml: command %q, the image's ENTRYPOINT %q: give no command, or the same", c.Command, ep)
	}
	if !slices.Equal(c.Args, args) {
		t.Errorf("deployment.yaml: args %q, the image's CMD %q: keep them the same (docker run and the pod should start the same gateway)", c.Args, args)
	}
	// The config it names is the ConfigMap's file, where it is mounted.
	cfgPath := ""
	for i, a := range args {
		if (a == "-c" || a == "--config") && i+1 < len(args) {
			cfgPath = args[i+1]
		}
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		if key, ok := strings.CutPrefix(cfgPath, strings.TrimSuffix(vm.MountPath, "/")+"/"); ok {
			_, mounted = m.cm.Data[key]
		}
	}
	if !mounted {
		t.Errorf("the image's CMD reads the config at %q, which is no key of the ConfigMap where the Deployment mounts it", cfgPath)
	}

	// The user.
	user := final.last("USER")
	if user == nil {
		t.Fatal("Dockerfile: no USER; the image must not run as root")
	}
	uid, gid, hasGroup := strings.Cut(user.args, ":")
	if uid != strconv.Itoa(pod.RunAsUser) || (hasGroup && gid != strconv.Itoa(pod.RunAsGroup)) {
		t.Errorf("Dockerfile: USER %s; the pod runs as %d:%d (runAsUser, runAsGroup): use the same numeric user", user.args, pod.RunAsUser, pod.RunAsGroup)
	}

	// The port.
	expose := final.last("EXPOSE")
	if expose == nil {
		t.Fatal("Dockerfile: no EXPOSE")
	}
	var ports []string
	for _, p := range c.Ports {
		ports = append(ports, strconv.Itoa(p.ContainerPort))
	}
	var exposed []string
	for _, p := range strings.Fields(expose.args) {
		exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
	}
	if !slices.Equal(exposed, ports) {
		t.Errorf("Dockerfile: EXPOSE %s; the container's ports are %v", expose.args, ports)
	}
}

// releaseRE is the Dockerfile's go build flag that stamps the release
// from a build argument: -ldflags=-X=github.com/sluicehq/sluice.Release=${ARG}.
var releaseRE = regexp.MustCompile(`^-ldflags=-X=github\.com/sluicehq/sluice\.Release=\$\{([A-Z_][A-Z0-9_]*)\}$`)

// buildArgs returns the stage's ARG defaults, by name.
func buildArgs(st *dockerStage) map[string]string {
	out := map[string]string{}
	for _, in := range st.instrs {
		if in.op == "ARG" {
			name, def, _ := strings.Cut(in.args, "=")
			out[name] = def
		}
	}
	return out
}

// TestDockerfile_BuildsAStaticBinary runs the Dockerfile's go build (its
// environment and flags, into a temporary directory, its build arguments
// expanded as the RUN's shell would) and checks the binary is static, as
// distroless/static needs: no program interpreter (the dynamic loader) and
// no dynamic section; and that a build argument names the release the
// binary reports (sluice version): the image, the one release build, said
// "devel" whatever release it was, so a fleet's replicas could not be told
// apart by it. The image build itself (docker build) is not run here.
func TestDockerfile_BuildsAStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary (skipped under -short)")
	}
	stages := parseDockerfile(t, "../Dockerfile")
	gb := findGoBuild(t, &stages[0])
	bin := filepath.Join(t.TempDir(), "sluice")
	vars := buildArgs(&stages[0])
	const release = "v0.0.0-dockerfile-test"
	releaseArg := ""
	for _, a := range gb.args {
		if m := releaseRE.FindStringSubmatch(a); m != nil {
			releaseArg = m[1]
		}
	}
	if _, declared := vars[releaseArg]; releaseArg == "" || !declared {
		t.Fatalf("Dockerfile: go build %v; want -ldflags=-X=github.com/sluicehq/sluice.Release=${NAME} with an ARG NAME=devel before it, so that docker build --build-arg NAME=v1.4.0 stamps the release", gb.args)
	}
	vars[releaseArg] = release
	var args []string
	for i := 0; i < len(gb.args); i++ {
		if gb.args[i] == "-o" {
			i++ // into the temporary directory instead
			continue
		}
		args = append(args, os.Expand(gb.args[i], func(k string) string { return vars[k] }))
	}
	build := exec.Command("go", append([]string{"build", "-o", bin}, args...)...)
	build.Dir = ".."
	// The Dockerfile's environment, and nothing from this one that would
	// change what it builds.
	build.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CGO_ENABLED=") }), gb.env...)
	if !slices.Contains(gb.env, "CGO_ENABLED=0") {
		build.Env = append(build.Env, "CGO_ENABLED=1") // golang images have a C compiler, so cgo is on
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the Dockerfile's go build (%v %v) gives a dynamically linked binary (program header %v): distroless/static has no libc or loader to run it", gb.env, gb.args, p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("the binary has a .dynamic section: it is dynamically linked")
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("sluice version -o json: %v", err)
	}
	var v struct{ Release string }
	if err := json.Unmarshal(out, &v); err != nil || v.Release != release {
		t.Errorf("the Dockerfile's go build with --build-arg %s=%s: sluice version -o json says %s (%v); want release %q", releaseArg, release, out, err, release)
	}
}

// TestDockerignore_KeepsWhatTheBuildNeeds: no file the image's go build
// reads (go.mod, go.sum, the Go and embedded files of every package of
// this module ./cmd/sluice imports) is left out of the build context by
// .dockerignore.
func TestDockerignore_KeepsWhatTheBuildNeeds(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.Contains(l, "**") || strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore: %q: this test matches patterns as filepath.Match does, without ** or exceptions; extend it first", l)
		}
		patterns = append(patterns, strings.Trim(filepath.Clean(l), "/"))
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	list := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/sluice")
	list.Dir = root
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	need := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			rel, err := filepath.Rel(root, filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			need = append(need, filepath.ToSlash(rel))
		}
	}
	if len(need) < 50 {
		t.Fatalf("go list found only %d files; expected the module's packages", len(need))
	}
	for _, f := range need {
		parts := strings.Split(f, "/")
		for i := range parts {
			prefix := strings.Join(parts[:i+1], "/")
			for _, p := range patterns {
				if ok, _ := filepath.Match(p, prefix); ok {
					t.Errorf(".dockerignore: %q leaves out %s, which go build needs", p, f)
				}
			}
		}
	}
}
