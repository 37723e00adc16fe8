package proxy

import "testing"

// The tool-call rate is over the answers to requests that offered tools, so
// the request scan must tell those apart: a non-empty tools (or legacy
// functions) array offers them, unless tool_choice (or function_call) is
// "none", which forbids a call. Both readers must agree.
func TestReadFields_ToolsOffered(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{`{"model":"chat","messages":[]}`, false},
		{`{"model":"chat","tools":[{"type":"function","function":{"name":"f"}}]}`, true},
		{`{"model":"chat","tools": [ {"type":"function"} ] ,"stream":true}`, true},
		{`{"model":"chat","tools":[]}`, false},
		{`{"model":"chat","tools":[ ]}`, false},
		{`{"model":"chat","tools":null}`, false},
		{`{"model":"chat","tools":{"type":"function"}}`, false},
		{`{"model":"chat","functions":[{"name":"f"}]}`, true},
		{`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"none"}`, false},
		{`{"model":"chat","tool_choice":"none","tools":[{"type":"function"}]}`, false},
		{`{"model":"chat","functions":[{"name":"f"}],"function_call":"none"}`, false},
		{`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"auto"}`, true},
		{`{"model":"chat","tools":[{"type":"function"}],"tool_choice":{"type":"function","function":{"name":"f"}}}`, true},
		{`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"required"}`, true},
		// Only the top level counts: a message's tool_calls is history.
		{`{"model":"chat","messages":[{"role":"assistant","tool_calls":[{"id":"1"}]}],"metadata":{"tools":[1]}}`, false},
		// An escaped "none" is "none" (gjson reads it so).
		{`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"\u006eone"}`, false},
		{`{"model":"chat","functions":[{"name":"f"}],"function_call":"n\u006fne"}`, false},
		{`{"model":"chat","tools":[{"type":"function"}],"tool_choice":"\u006eon"}`, true},
		// An escaped key sends the body to gjson, which must agree.
		{`{"m\u006fdel":"chat","tools":[{"type":"function"}]}`, true},
	} {
		if got := readFields([]byte(tt.body)).toolsOffered; got != tt.want {
			t.Errorf("readFields(%s).toolsOffered = %v, want %v", tt.body, got, tt.want)
		}
		if got := readFieldsGJSON([]byte(tt.body)).toolsOffered; got != tt.want {
			t.Errorf("readFieldsGJSON(%s).toolsOffered = %v, want %v", tt.body, got, tt.want)
		}
	}
}
