package server

import (
	"net/url"
	"slices"
	"strings"
)

// redacted stands for the store's password in a message.
const redacted = "***"

// redactDSN takes the store's password out of an error's text, should it
// quote the DSN or the part of it that holds the password. It redacts the
// password field alone, in either form pgx reads, as pgx reads it: a
// URL's user:password@ or its password= parameter, a key=value string's
// password=, and the client key's sslpassword= in either. Replacing
// every occurrence of the password's text instead masked every equal word
// of the message: a password "postgres" made "cannot reach PostgreSQL at
// host/*** (user ***)" of a message that named neither.
func redactDSN(msg, store string) string {
	for _, f := range passwordFields(store) {
		msg = strings.ReplaceAll(msg, f.text, f.redacted)
	}
	return msg
}

// cutScheme returns store after its postgres:// or postgresql:// prefix,
// which is how pgconn.ParseConfig tells a URL from a key=value string.
func cutScheme(store string) (string, bool) {
	for _, prefix := range []string{"postgres://", "postgresql://"} {
		if rest, ok := strings.CutPrefix(store, prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// passwordField is a text of a DSN that holds its password with the
// field's name or its neighbours around it, and the same with the
// password replaced.
type passwordField struct {
	text, redacted string
}

// passwordFields returns the texts in store that hold its password with
// the field's name or its neighbours around it (user:password@,
// password=value), as written and as pgx decodes them, longest first; none
// when store gives no password.
func passwordFields(store string) []passwordField {
	var fields []passwordField
	add := func(text, redacted string) {
		for _, f := range fields {
			if f.text == text {
				return
			}
		}
		fields = append(fields, passwordField{text, redacted})
	}
	if rest, ok := cutScheme(store); ok {
		// As pgconn reads a URL (parseURLSettings, libpq's rules): the
		// userinfo runs to the first '@' before any '/', so a password
		// may hold a raw '?' or '#', which net/url refuses (and nothing
		// was redacted).
		if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
			user, pw, ok := strings.Cut(rest[:i], ":")
			if ok && pw != "" {
				add(rest[:i+1], user+":"+redacted+"@")
				if v, err := url.PathUnescape(pw); err == nil {
					if name, err := url.PathUnescape(user); err == nil {
						add(name+":"+v+"@", name+":"+redacted+"@")
					}
				}
			}
			rest = rest[i+1:]
		}
		// And as net/url reads it, up to the authority's last '@'
		// (user:p@ss@host), which a message made from url.Parse quotes.
		if u, err := url.Parse(store); err == nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				auth := store[strings.Index(store, "://")+3:]
				if end := strings.IndexAny(auth, "/?#"); end >= 0 {
					auth = auth[:end]
				}
				if at := strings.LastIndex(auth, "@"); at >= 0 {
					written := auth[:at+1] // as written: user:p%40ss@
					name, _, _ := strings.Cut(written, ":")
					add(written, name+":"+redacted+"@")
				}
				add(u.User.Username()+":"+pw+"@", u.User.Username()+":"+redacted+"@")
			}
		}
		// The query's password and sslpassword (the client key's), their
		// keys percent-decoded as pgconn decodes them (pass%77ord).
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			for _, kv := range strings.Split(rest[q+1:], "&") {
				rawKey, raw, ok := strings.Cut(kv, "=")
				key, err := url.PathUnescape(rawKey)
				key = strings.Trim(key, " ")
				if !ok || err != nil || raw == "" || key != "password" && key != "sslpassword" {
					continue
				}
				add(kv, rawKey+"="+redacted)
				if v, err := url.PathUnescape(raw); err == nil {
					add(key+"="+v, key+"="+redacted)
				}
			}
		}
	} else {
		for _, kv := range keywordValues(store) {
			if (kv.key == "password" || kv.key == "sslpassword") && kv.value != "" {
				add(kv.text, kv.key+"="+redacted)
				add(kv.key+"="+kv.raw, kv.key+"="+redacted)
				add(kv.key+"="+kv.value, kv.key+"="+redacted)
			}
		}
	}
	// The longest first, so that a field written with spaces or quotes is
	// replaced whole before a shorter one inside it.
	slices.SortStableFunc(fields, func(a, b passwordField) int { return len(b.text) - len(a.text) })
	return fields
}

// keywordValue is one setting of a key=value DSN: the key, the value as
// written (quotes included) and decoded, and the whole setting's text.
type keywordValue struct {
	key, raw, value, text string
}

// keywordValues reads a key=value DSN as pgconn does
// (parseKeywordValueSettings): spaces around =, a value single-quoted or
// up to the next space, a backslash escaping the next byte (and dropped).
// It stops at what pgconn would refuse.
func keywordValues(s string) []keywordValue {
	const space = " \t\n\r\v\f"
	var out []keywordValue
	for {
		s = strings.TrimLeft(s, space)
		if s == "" {
			return out
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return out
		}
		start := s
		key := strings.Trim(s[:eq], space)
		s = strings.TrimLeft(s[eq+1:], space)
		var raw string
		quoted := s != "" && s[0] == '\''
		end := 0
		if quoted {
			for end = 1; end < len(s) && s[end] != '\''; end++ {
				if s[end] == '\\' {
					end++
				}
			}
			if end >= len(s) {
				return out // an unterminated quote
			}
			end++
		} else {
			for ; end < len(s) && !strings.ContainsRune(space, rune(s[end])); end++ {
				if s[end] == '\\' {
					end++
				}
			}
			end = min(end, len(s))
		}
		raw = s[:end]
		value := raw
		if quoted {
			value = raw[1 : len(raw)-1]
		}
		value = unescapeKeywordValue(value)
		text := start[:len(start)-len(s)+end]
		out = append(out, keywordValue{key: key, raw: raw, value: value, text: strings.TrimLeft(text, space)})
		s = s[end:]
	}
}

// unescapeKeywordValue drops each backslash, keeping the byte it escapes,
// as pgconn's does.
func unescapeKeywordValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
