package apiserver

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// sessions are the browser console's logins: the cookie holds a random
// session id, never the token; the token stays in this process's memory
// (a handler calling another regiond on the caller's behalf presents it:
// RequestToken). A logout deletes the session here, so a copied cookie
// stops working at once; a restart of the daemon ends every session.
type sessions struct {
	mu   sync.Mutex
	byID map[string]session
}

type session struct {
	token   string
	expires time.Time
}

// open starts a session for token and returns its id.
func (s *sessions) open(token string, now time.Time) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("apiserver: no randomness for a session id: " + err.Error())
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]session{}
	}
	for k, v := range s.byID { // few: one per console login of a shift
		if now.After(v.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[id] = session{token: token, expires: now.Add(sessionMaxAge)}
	return id
}

// token returns the token of session id, if it is open and not expired.
func (s *sessions) token(id string, now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[id]
	if !ok || now.After(v.expires) {
		return "", false
	}
	return v.token, true
}

// close ends session id.
func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}
