package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/promgate"
)

// yamlBlock is one ```yaml block of a Markdown file.
type yamlBlock struct {
	line int // of the opening fence, from 1
	text string
}

var fenceRE = regexp.MustCompile("(?m)^```yaml\n((?s:.*?))^```")

func yamlBlocks(tb testing.TB, path string) []yamlBlock {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	text := string(b)
	var out []yamlBlock
	for _, m := range fenceRE.FindAllStringSubmatchIndex(text, -1) {
		out = append(out, yamlBlock{line: strings.Count(text[:m[0]], "\n") + 1, text: text[m[2]:m[3]]})
	}
	return out
}

// TestREADME_YAMLBlocksLoad loads every YAML block of README.md as the file
// it is shown as, so that no example a newcomer copies can rot: a block
// with a top-level "models:" is a model file (`sluice apply -f`), one that
// starts "# models.yaml, under the model" is a part of a model, and any
// other is gateway configuration (`sluice serve -c`). It failed on the
// client keys example, whose "sha256: 3b1f…64 hex digits…" no gateway
// loads.
func TestREADME_YAMLBlocksLoad(t *testing.T) {
	// The ${ENV} values the examples name, as a deployment exports them.
	t.Setenv("SLUICE_KEY_WEB", "web-app-key-0123456789")
	t.Setenv("VLLM_API_KEY", "vllm-key-0123456789")
	t.Setenv("AZURE_OPENAI_KEY", "azure-key-0123456789")
	t.Setenv("EVAL_TOKEN", "eval-token-0123456789")
	t.Setenv("SLACK_HOOK", "T0/B0/slack-secret")
	t.Setenv("DISCORD_HOOK", "1/discord-secret")
	t.Setenv("PD_ROUTING_KEY", "R0UT1NGKEY0123456789abcdef012345")
	t.Setenv("GCHAT_SPACE", "AAAA1234")
	t.Setenv("GCHAT_KEY", "gchat-key-0123456789")
	t.Setenv("GCHAT_TOKEN", "gchat-token-0123456789")
	t.Setenv("OPSGENIE_API_KEY", "eb243592-faa2-4ba2-a551-1afdf565c889")
	// The ${file:PATH} values name files a deployment mounts: each is read
	// from one file here.
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("file-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileRef := regexp.MustCompile(`\$\{file:[^}]*\}`)
	blocks := yamlBlocks(t, "../README.md")
	for i := range blocks {
		blocks[i].text = fileRef.ReplaceAllString(blocks[i].text, "$${file:"+keyFile+"}")
	}
	if len(blocks) < 4 {
		t.Fatalf("README.md has %d yaml blocks; this test expected the model file, the Prometheus settings and gates, and the client keys", len(blocks))
	}
	for _, b := range blocks {
		name := "README.md:" + strconv.Itoa(b.line)
		switch {
		case strings.HasPrefix(b.text, "models:"):
			if _, err := config.ParseApplyDoc(name, []byte(b.text)); err != nil {
				t.Errorf("model file: %v", err)
			}
		case strings.HasPrefix(b.text, "# models.yaml, under the model"):
			wrapped := "models:\n  - name: chat\n" + indent(b.text, "    ")
			doc, err := config.ParseApplyDoc(name, []byte(wrapped))
			if err != nil {
				t.Errorf("part of a model: %v", err)
				continue
			}
			if r := doc.Models[0].Rollout; r != nil {
				if err := promgate.Validate(r.Analysis.Prometheus); err != nil {
					t.Errorf("gates at %s: %v", name, err)
				}
				if err := sluice.ValidateWebhooks(r.Webhooks); err != nil {
					t.Errorf("webhooks at %s: %v", name, err)
				}
			}
		default:
			if _, err := config.ParseGateway(name, []byte(b.text)); err != nil {
				t.Errorf("gateway configuration: %v", err)
			}
		}
	}
}

// TestDeploy_KubernetesConfigLoads loads the sluice.yaml of the
// Kubernetes ConfigMap the README points to, with the Secret's variables
// set as the Deployment sets them.
func TestDeploy_KubernetesConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	text, ok := cm.Data["sluice.yaml"]
	if !ok {
		t.Fatal("the ConfigMap has no sluice.yaml")
	}
	t.Setenv("SLUICE_STORE", "postgres://sluice:secret@postgres:5432/sluice?sslmode=require")
	t.Setenv("SLUICE_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef")
	g, err := config.ParseGateway("configmap.yaml: sluice.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// The cluster's log collector ships stderr: one JSON object a line.
	if g.Log.Format != "json" {
		t.Errorf("the ConfigMap's sluice.yaml has log.format %q; want json, which a log shipper reads without a parser", g.Log.Format)
	}
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
