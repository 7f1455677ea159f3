package api

// ErrorBody is the JSON body of every error the API returns.
type ErrorBody struct {
	// Error says what went wrong.
	Error string `json:"error"`
	// Hint says what to do about it; omitted when empty.
	Hint string `json:"hint,omitempty"`
}
