package fakellm

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// GET /v1/responses/{id}/input_items, as OpenAI serves it: the items of
// the input of the request that made the response, as a page of a list
// object ({"object":"list","data":[...],"first_id","last_id","has_more"}).
// An input string is one user message; a list's messages get their type,
// an id and a status, and a string content becomes one input_text part
// (output_text for an assistant's); other items (function_call_output,
// item_reference, ...) are listed as they came, with an id if they had
// none. Only the response's own input is listed, not the earlier turns of
// its conversation. The query's order (default desc, as OpenAI's), limit
// (1 to 100, default 20), after and before page through them.
//
// The items are built at each request from the input the server kept
// (storedResponse.input), with encoding/json: this endpoint is rare, and
// the generation path keeps the one copy of the raw input only.

// inputItems serves the input items of response id, whose request's raw
// "input" is input.
func (s *Server) inputItems(w http.ResponseWriter, r *http.Request, st *reqState, id string, input []byte) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, st, http.StatusBadRequest, "invalid_request_error", "invalid_value", "Invalid 'limit': "+strconv.Quote(v)+". Expected an integer between 1 and 100.")
			return
		}
		limit = n
	}
	order := q.Get("order")
	switch order {
	case "":
		order = "desc"
	case "asc", "desc":
	default:
		writeError(w, st, http.StatusBadRequest, "invalid_request_error", "invalid_value", "Invalid 'order': "+strconv.Quote(order)+". Expected one of 'asc' or 'desc'.")
		return
	}
	items := listInputItems(strings.TrimPrefix(id, "resp_"), input)
	if order == "desc" {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	from, to := 0, len(items)
	for _, c := range []struct {
		key string
		at  *int
		off int
	}{{"after", &from, 1}, {"before", &to, 0}} {
		v := q.Get(c.key)
		if v == "" {
			continue
		}
		i := indexItem(items, v)
		if i < 0 {
			writeError(w, st, http.StatusBadRequest, "invalid_request_error", "invalid_value", "Invalid '"+c.key+"': no input item "+strconv.Quote(v)+" in response '"+id+"'.")
			return
		}
		*c.at = i + c.off
	}
	var page []inputItem
	if from < to {
		page = items[from:to]
	}
	more := len(page) > limit
	if more {
		page = page[:limit]
	}
	out := struct {
		Object  string            `json:"object"`
		Data    []json.RawMessage `json:"data"`
		FirstID *string           `json:"first_id"`
		LastID  *string           `json:"last_id"`
		HasMore bool              `json:"has_more"`
	}{Object: "list", Data: []json.RawMessage{}, HasMore: more}
	for _, it := range page {
		out.Data = append(out.Data, it.raw)
	}
	if len(page) > 0 {
		out.FirstID, out.LastID = &page[0].id, &page[len(page)-1].id
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, st, http.StatusInternalServerError, "server_error", "", "fakellm: "+err.Error())
		return
	}
	w.Header()["Content-Type"] = ctJSON
	_, _ = w.Write(b)
}

// inputItem is one listed item: its id and its JSON.
type inputItem struct {
	id  string
	raw json.RawMessage
}

func indexItem(items []inputItem, id string) int {
	for i, it := range items {
		if it.id == id {
			return i
		}
	}
	return -1
}

// listInputItems returns the items of a request's raw input, in order;
// their new ids are made from tag (the response id's own part), so that
// they are the same at every request.
func listInputItems(tag string, input []byte) []inputItem {
	var items []inputItem
	newID := func(prefix string) string {
		return prefix + tag + "_" + strconv.Itoa(len(items))
	}
	input = bytes.TrimSpace(input)
	if len(input) == 0 {
		return nil
	}
	var text string
	if input[0] == '"' {
		if json.Unmarshal(input, &text) != nil {
			return nil
		}
		id := newID("msg_")
		return []inputItem{{id, mustJSON(map[string]any{
			"id": id, "type": "message", "role": "user", "status": "completed",
			"content": []any{map[string]any{"type": "input_text", "text": text}},
		})}}
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(input, &list) != nil {
		return nil
	}
	for _, m := range list {
		if m == nil {
			continue // a null, which the generation path skips too
		}
		var typ, role, id string
		_ = json.Unmarshal(m["type"], &typ)
		_ = json.Unmarshal(m["role"], &role)
		_ = json.Unmarshal(m["id"], &id)
		isMessage := typ == "message" || typ == "" && role != ""
		if id == "" {
			prefix := "item_"
			if isMessage {
				prefix = "msg_"
			}
			id = newID(prefix)
			m["id"] = mustJSON(id)
		}
		if isMessage {
			m["type"] = mustJSON("message")
			if _, ok := m["status"]; !ok {
				m["status"] = mustJSON("completed")
			}
			if c := bytes.TrimSpace(m["content"]); len(c) > 0 && c[0] == '"' {
				_ = json.Unmarshal(c, &text)
				part := map[string]any{"type": "input_text", "text": text}
				if role == "assistant" {
					part = map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
				}
				m["content"] = mustJSON([]any{part})
			}
		}
		items = append(items, inputItem{id, mustJSON(m)})
	}
	return items
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps, strings and raw JSON that was read as such
	}
	return b
}
