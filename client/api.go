package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hoopgw/hoop/api"
)

// APIError is a non-2xx answer of the gateway's API.
type APIError struct {
	StatusCode int    // 403
	Code       string // api.CodeForbidden
	Message    string // "no rule grants alice@example.com access to connection db-prod"
}

func (e *APIError) Error() string { return e.Message }

// Get calls GET {gateway}{path} with the bearer token and decodes the JSON answer into out.
func Get(ctx context.Context, hc *http.Client, gateway, path, token string, out any) error {
	return Call(ctx, hc, http.MethodGet, gateway, path, token, nil, out)
}

// Call calls method {gateway}{path} with the bearer token and in as its JSON body (none
// when nil), and decodes the JSON answer into out.
func Call(ctx context.Context, hc *http.Client, method, gateway, path, token string, in, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimRight(gateway, "/") + path
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("gateway %s: %w", u, err)
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, reqBody)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", gateway, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", gateway, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("gateway %s: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		var ae api.Error
		if json.Unmarshal(body, &ae) == nil && ae.Error != "" {
			return &APIError{StatusCode: resp.StatusCode, Code: ae.Code, Message: ae.Error}
		}
		return &APIError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("gateway %s answered %s", u, resp.Status)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("gateway %s: decode answer: %w", u, err)
	}
	return nil
}
