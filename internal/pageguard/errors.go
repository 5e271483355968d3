package pageguard

import (
	"encoding/json"
	"net/http"
)

// Codes of the errors the guard writes; surfaces add their own (an engine's code,
// "unknown_module", "bad_signature"…).
const (
	CodeBadRequest   = "bad_request"  // a body, form or query that cannot be read
	CodeUnauthorized = "unauthorized" // no or wrong secret, no live session
	CodeForbidden    = "forbidden"    // cross-origin, or missing or wrong page token
	CodeNotFound     = "not_found"    // no such route or thing
	CodeNotAllowed   = "not_allowed"  // the route takes another method
	CodeConflict     = "conflict"     // the thing's state refuses the request
	CodeTooLarge     = "too_large"    // a body beyond its limit
	CodeMisdirected  = "misdirected"  // a Host these pages are not served by
	CodeThrottled    = "throttled"    // too many wrong secrets from this address
	CodeInternal     = "error"        // anything else
)

// Error is a refusal: an HTTP status, a code for scripts, a message for people.
type Error struct {
	Status int
	Code   string
	Msg    string
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// CodeFor is the code of an error answered with status and no code of its own.
func CodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusMisdirectedRequest:
		return CodeMisdirected
	case http.StatusTooManyRequests:
		return CodeThrottled
	}
	return CodeInternal
}

// WriteError writes the JSON error {"error": msg, "code": code} with status; an
// empty code becomes CodeFor(status), so that no error goes without one.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	if code == "" {
		code = CodeFor(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, code})
}

// Routes returns mux with the answers it makes itself, to a path it has no route for
// (404) or a method its route does not take (405, with Allow), written as JSON errors
// too. What mux's handlers write passes unchanged.
func Routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w = &muxAnswer{ResponseWriter: w, path: r.URL.Path, method: r.Method}
		}
		mux.ServeHTTP(w, r)
	})
}

// muxAnswer turns the mux's own 404 and 405 into JSON errors, dropping its text.
type muxAnswer struct {
	http.ResponseWriter
	path, method string
	replaced     bool
}

func (m *muxAnswer) WriteHeader(status int) {
	switch status {
	case http.StatusNotFound:
		m.replaced = true
		WriteError(m.ResponseWriter, status, CodeNotFound, "no route "+m.path)
	case http.StatusMethodNotAllowed:
		m.replaced = true
		WriteError(m.ResponseWriter, status, CodeNotAllowed, m.path+" does not take "+m.method)
	default:
		m.ResponseWriter.WriteHeader(status)
	}
}

func (m *muxAnswer) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}
