package fakellm

import "testing"

// TestListInputItems_NullItem: an input list holding a JSON null (which
// the generation path accepts, as it reads input loosely) is listed
// without the item instead of panicking on a nil map, which took down the
// GET .../input_items request.
func TestListInputItems_NullItem(t *testing.T) {
	items := listInputItems("abc", []byte(`[null,{"role":"user","content":"hi"}]`))
	if len(items) != 1 || items[0].id != "msg_abc_0" {
		t.Fatalf("items %+v, want the one message", items)
	}
}
