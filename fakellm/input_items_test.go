package fakellm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/packages/pagination"
	"github.com/openai/openai-go/responses"
)

// texts returns the text of each listed item: a message's first content
// part, or a function call output's output.
func texts(items []responses.ResponseItemUnion) []string {
	var out []string
	for _, it := range items {
		switch {
		case it.Type == "message" && it.Role == "assistant":
			if m := it.AsOutputMessage(); len(m.Content) > 0 && m.Content[0].Type == "output_text" {
				out = append(out, "assistant:"+m.Content[0].Text)
			}
		case it.Type == "message":
			if m := it.AsMessage(); len(m.Content) > 0 && m.Content[0].Type == "input_text" {
				out = append(out, string(m.Role)+":"+m.Content[0].Text)
			}
		default:
			out = append(out, it.Type+":"+it.Output.OfString)
		}
	}
	return out
}

// pageIDs returns a page's first_id and last_id, which the SDK's
// CursorPage keeps among its extra fields.
func pageIDs(p *pagination.CursorPage[responses.ResponseItemUnion]) (first, last string) {
	_ = json.Unmarshal([]byte(p.JSON.ExtraFields["first_id"].Raw()), &first)
	_ = json.Unmarshal([]byte(p.JSON.ExtraFields["last_id"].Raw()), &last)
	return first, last
}

// TestServer_InputItems: through the OpenAI SDK's
// Responses.InputItems.List, a kept response lists the items of its
// request's input in OpenAI's shape (a list object with data, first_id,
// last_id, has_more): an input string as one user message; a list's
// messages and other items each with an id; newest first unless
// order=asc; paged by limit and after (the SDK's auto-pager). A response
// the server does not keep is a 404; a bad limit or order a 400.
func TestServer_InputItems(t *testing.T) {
	ctx := context.Background()
	s := MustStart(t, Config{})
	c := respClient(s)

	one, err := c.Responses.New(ctx, respParams("just this"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.Responses.InputItems.List(ctx, one.ID, responses.InputItemListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page.Data); len(got) != 1 || got[0] != "user:just this" || page.HasMore {
		t.Errorf("string input: %v (has_more %v), want [user:just this]", got, page.HasMore)
	}
	if it := page.Data[0]; it.ID == "" || it.Status != "completed" || it.Type != "message" {
		t.Errorf("item %s: want an id, type message, status completed", it.RawJSON())
	}
	if first, last := pageIDs(page); first != page.Data[0].ID || last != page.Data[0].ID || page.RawJSON()[:16] != `{"object":"list"` {
		t.Errorf("page %s: want a list object, first_id and last_id the item's id", page.RawJSON())
	}

	p := respParams("")
	p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("be brief", responses.EasyInputMessageRoleSystem),
		responses.ResponseInputItemParamOfMessage("what is 2+2?", responses.EasyInputMessageRoleUser),
		responses.ResponseInputItemParamOfMessage("4", responses.EasyInputMessageRoleAssistant),
		responses.ResponseInputItemParamOfFunctionCallOutput("call_1", "sunny"),
		responses.ResponseInputItemParamOfMessage("and 3+3?", responses.EasyInputMessageRoleUser),
	}}
	many, err := c.Responses.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	asc := []string{"system:be brief", "user:what is 2+2?", "assistant:4", "function_call_output:sunny", "user:and 3+3?"}
	page, err = c.Responses.InputItems.List(ctx, many.ID, responses.InputItemListParams{})
	if err != nil {
		t.Fatal(err)
	}
	got := texts(page.Data)
	if len(got) != 5 || got[0] != asc[4] || got[4] != asc[0] {
		t.Errorf("default order: %v, want newest first (desc)", got)
	}
	ids := map[string]bool{}
	for _, it := range page.Data {
		ids[it.ID] = true
	}
	if len(ids) != 5 || ids[""] {
		t.Errorf("ids %v: want 5 distinct ids", ids)
	}

	pager := c.Responses.InputItems.ListAutoPaging(ctx, many.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: openai.Int(2)})
	var all []responses.ResponseItemUnion
	for pager.Next() {
		all = append(all, pager.Current())
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(all), "|"); got != strings.Join(asc, "|") {
		t.Errorf("asc, 2 a page: %s, want %s", got, strings.Join(asc, "|"))
	}
	page, err = c.Responses.InputItems.List(ctx, many.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: openai.Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	if first, last := pageIDs(page); !page.HasMore || len(page.Data) != 2 || first != page.Data[0].ID || last != page.Data[1].ID {
		t.Errorf("first page of 2: %s, want 2 items, has_more, first_id and last_id theirs", page.RawJSON())
	}

	for name, tc := range map[string]struct {
		id     string
		params responses.InputItemListParams
		status int
	}{
		"Unknown":  {"resp_none", responses.InputItemListParams{}, http.StatusNotFound},
		"BadLimit": {many.ID, responses.InputItemListParams{Limit: openai.Int(101)}, http.StatusBadRequest},
		"BadOrder": {many.ID, responses.InputItemListParams{Order: "up"}, http.StatusBadRequest},
		"BadAfter": {many.ID, responses.InputItemListParams{After: openai.String("msg_x")}, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Responses.InputItems.List(ctx, tc.id, tc.params)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Errorf("err %v, want %d", err, tc.status)
			}
		})
	}
}
