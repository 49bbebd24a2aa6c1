package identity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/internal/testissuer"
	"github.com/hoopgw/hoop/server/identity"
)

// githubActions is the workload of the example config, plus a mapping for
// release tags, for an issuer that stands in for https://token.actions.githubusercontent.com.
func githubActions(url string) identity.Workload {
	return identity.Workload{
		Name: "github-actions", Issuer: url, Audience: "hoop",
		Mappings: []identity.Mapping{
			{When: map[string]string{"repository": "acme/app", "ref": "refs/heads/main"}, Identity: "ci:{repository}@{ref_name}", Groups: []string{"ci-deploy"}},
			{When: map[string]string{"repository": "acme/app", "ref": "refs/tags/v*"}, Identity: "ci:{repository}@{ref_name}", Groups: []string{"ci-release", "ci-deploy", "ci-release"}},
			{When: map[string]string{"repository_owner": "acme"}, Identity: "ci:{repository}", Groups: []string{"ci-readonly"}},
		},
	}
}

// ghClaims are the claims of a GitHub Actions token for a job of repo at ref, with the
// changes in extra (a nil value removes a claim).
func ghClaims(repo, ref string, extra map[string]any) map[string]any {
	owner, _, _ := strings.Cut(repo, "/")
	name := ref[strings.LastIndexByte(ref, '/')+1:]
	c := map[string]any{
		"aud": "hoop", "sub": "repo:" + repo + ":ref:" + ref,
		"repository": repo, "repository_owner": owner, "ref": ref, "ref_name": name,
		"ref_type": "branch", "workflow": "deploy", "run_id": "9876543210", "actor": "octocat",
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// TestWorkload: GitHub-like tokens, real ones over HTTP from a real issuer, through the
// mappings; people's tokens go on working beside them.
func TestWorkload(t *testing.T) {
	people := testissuer.New(t)
	gh := testissuer.New(t)
	stranger := testissuer.New(t)
	vs := identity.NewVerifiers(identity.Config{Issuer: people.URL(), Audience: "hoop-cli"}, []identity.Workload{githubActions(gh.URL())})
	ctx := context.Background()

	type want struct {
		id     identity.Identity
		err    string // the whole message
		reason error  // what errors.Is finds besides ErrInvalidToken
	}
	tests := []struct {
		name  string
		token string
		exp   time.Time
		want  want
	}{
		{name: "main branch: the first mapping",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", nil)),
			want:  want{id: identity.Identity{Subject: "ci:acme/app@main", Issuer: gh.URL(), Groups: []string{"ci-deploy"}, Workload: "github-actions"}}},
		{name: "a release tag: a prefix, groups sorted once",
			token: gh.Token(ghClaims("acme/app", "refs/tags/v1.2.0", map[string]any{"ref_type": "tag"})),
			want:  want{id: identity.Identity{Subject: "ci:acme/app@v1.2.0", Issuer: gh.URL(), Groups: []string{"ci-deploy", "ci-release"}, Workload: "github-actions"}}},
		{name: "another branch of the owner: the third mapping",
			token: gh.Token(ghClaims("acme/app", "refs/heads/feature", nil)),
			want:  want{id: identity.Identity{Subject: "ci:acme/app", Issuer: gh.URL(), Groups: []string{"ci-readonly"}, Workload: "github-actions"}}},
		{name: "another repository of the owner",
			token: gh.Token(ghClaims("acme/tools", "refs/heads/main", nil)),
			want:  want{id: identity.Identity{Subject: "ci:acme/tools", Issuer: gh.URL(), Groups: []string{"ci-readonly"}, Workload: "github-actions"}}},
		{name: "a person's token, with the same claims, is a person",
			token: people.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"aud": "hoop-cli", "sub": "alice", "email": "alice@example.com", "groups": []string{"dba"}})),
			want:  want{id: identity.Identity{Subject: "alice", Email: "alice@example.com", Issuer: people.URL(), Groups: []string{"dba"}}}},

		{name: "no mapping: another owner",
			token: gh.Token(ghClaims("evil/app", "refs/heads/main", nil)),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: the token's claims match no mapping: ref="refs/heads/main", repository="evil/app", repository_owner="evil"`}},
		{name: "no mapping: an owner whose name starts like it (no prefix without *)",
			token: gh.Token(ghClaims("acmecorp/app", "refs/heads/main", nil)),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: the token's claims match no mapping: ref="refs/heads/main", repository="acmecorp/app", repository_owner="acmecorp"`}},
		{name: "no mapping: claims missing or not strings",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"repository": nil, "ref": []string{"x"}, "repository_owner": nil})),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: the token's claims match no mapping: ref (not a string), repository (none), repository_owner (none)`}},
		{name: "an empty claim matches no prefix",
			token: gh.Token(ghClaims("", "refs/heads/main", map[string]any{"repository_owner": ""})),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: the token's claims match no mapping: ref="refs/heads/main", repository="", repository_owner=""`}},
		{name: "a mapping matches, but its identity names a claim the token lacks",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"ref_name": nil})),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: mapping 1 (identity "ci:{repository}@{ref_name}") matches, but the token has no claim ref_name`}},
		{name: "a mapping matches, but a claim of its identity is empty",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"ref_name": ""})),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: mapping 1 (identity "ci:{repository}@{ref_name}") matches, but the token's claim ref_name is empty`}},
		{name: "a claim of the identity has control characters",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"ref_name": "main\nadmin"})),
			want: want{reason: identity.ErrNoMapping,
				err: `invalid token: workload github-actions: mapping 1 (identity "ci:{repository}@{ref_name}") matches, but the token's claim ref_name has control characters: "main\nadmin"`}},

		{name: "untrusted issuer",
			token: stranger.Token(ghClaims("acme/app", "refs/heads/main", nil)),
			want: want{reason: identity.ErrUntrustedIssuer,
				err: `invalid token: token issuer "` + stranger.URL() + `" is not trusted by this gateway`}},
		{name: "no issuer",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"iss": nil})),
			want: want{reason: identity.ErrUntrustedIssuer,
				err: `invalid token: token has no iss claim, so no issuer this gateway trusts`}},
		{name: "wrong audience: GitHub's default, the owner's URL",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"aud": "https://github.com/acme"})),
			want: want{reason: identity.ErrWrongAudience,
				err: `invalid token: token audience ["https://github.com/acme"] is not this gateway's: tokens from ` + gh.URL() + ` must be issued for audience "hoop"`}},
		{name: "wrong audience: the people's client id",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"aud": "hoop-cli"})),
			want: want{reason: identity.ErrWrongAudience,
				err: `invalid token: token audience ["hoop-cli"] is not this gateway's: tokens from ` + gh.URL() + ` must be issued for audience "hoop"`}},
		{name: "a people's token for the workload audience",
			token: people.Token(map[string]any{"aud": "hoop", "sub": "alice"}),
			want: want{reason: identity.ErrWrongAudience,
				err: `invalid token: token audience ["hoop"] is not this gateway's: tokens from ` + people.URL() + ` must be issued for audience "hoop-cli"`}},
		{name: "expired",
			token: gh.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"exp": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "iat": time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)})),
			want:  want{err: `invalid token: token expired at 2026-01-02T03:04:05Z`}},
		{name: "forged: another key under the issuer's kid",
			token: gh.Forge(ghClaims("acme/app", "refs/heads/main", nil)),
			want:  want{err: `invalid token: failed to verify signature: failed to verify id token signature`}},
		{name: "an untrusted issuer's token that names a trusted issuer",
			token: stranger.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"iss": gh.URL()})),
			want:  want{err: `invalid token: failed to verify signature: failed to verify id token signature`}},
		{name: "garbage", token: "not-a-jwt",
			want: want{err: `invalid token: malformed token: want a signed JWT, the ID token (header.payload.signature); an opaque access or refresh token is never accepted as the bearer`}},
		{name: "payload not base64", token: "e30.!!!.e30",
			want: want{err: `invalid token: malformed token: the payload is not base64url`}},
		{name: "payload not JSON", token: "e30.bm90IGpzb24.e30",
			want: want{err: `invalid token: malformed token: the payload is not a JSON object`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vs.Verify(ctx, tt.token)
			if tt.want.err == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.Expiry.IsZero() || time.Until(got.Expiry) < 50*time.Minute {
					t.Errorf("Expiry: got %s, want the token's, about an hour from now", got.Expiry)
				}
				got.Expiry = time.Time{}
				if diff := cmp.Diff(tt.want.id, got); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %+v, want %q", got, tt.want.err)
			}
			if err.Error() != tt.want.err {
				t.Errorf("got  %q\nwant %q", err, tt.want.err)
			}
			if !errors.Is(err, identity.ErrInvalidToken) {
				t.Errorf("got %v, want ErrInvalidToken", err)
			}
			for _, reason := range []error{identity.ErrUntrustedIssuer, identity.ErrWrongAudience, identity.ErrNoMapping} {
				if errors.Is(err, reason) != (reason == tt.want.reason) {
					t.Errorf("errors.Is(err, %v): got %v, want %v", reason, !(reason == tt.want.reason), reason == tt.want.reason)
				}
			}
			// The token is a credential: no part of it is repeated.
			for _, part := range strings.Split(tt.token, ".") {
				if len(part) > 8 && strings.Contains(err.Error(), part) {
					t.Errorf("the error repeats the token: %q", err)
				}
			}
		})
	}

	// The issuers' keys were fetched once, and discovery happened once, for all these
	// tokens (a forged token makes go-oidc look for a rotated key: one more fetch each).
	if d, _ := gh.Fetches(); d != 1 {
		t.Errorf("discovery at the workload issuer: %d times, want 1", d)
	}
	if d, k := people.Fetches(); d != 1 || k != 1 {
		t.Errorf("discovery, keys at the people's issuer: %d, %d times, want 1, 1", d, k)
	}
	if d, k := stranger.Fetches(); d != 0 || k != 0 {
		t.Errorf("discovery, keys at the untrusted issuer: %d, %d times, want none", d, k)
	}
}

// TestTwoWorkloads: GitHub Actions and GitLab CI at once. Each token is mapped by its own
// issuer's workload, never by the other's, though their claims would match it.
func TestTwoWorkloads(t *testing.T) {
	people := testissuer.New(t)
	gh := testissuer.New(t)
	gl := testissuer.New(t)
	gitlab := identity.Workload{
		Name: "gitlab-ci", Issuer: gl.URL(), Audience: "https://hoop.example.com",
		Mappings: []identity.Mapping{
			// GitLab's claims, with the kinds a token may carry: an integer and a boolean
			// compare as their text.
			{When: map[string]string{"namespace_path": "acme", "project_id": "42", "ref_protected": "true"},
				Identity: "gitlab:{project_path}#{pipeline_id}", Groups: []string{"ci-deploy"}},
		},
	}
	vs := identity.NewVerifiers(identity.Config{Issuer: people.URL(), Audience: "hoop-cli"},
		[]identity.Workload{githubActions(gh.URL()), gitlab})
	ctx := context.Background()

	glClaims := map[string]any{"aud": "https://hoop.example.com", "sub": "project_path:acme/app:ref_type:branch:ref:main",
		"namespace_path": "acme", "project_path": "acme/app", "project_id": 42, "pipeline_id": 1234567, "ref_protected": true}
	for _, tt := range []struct {
		name, token, subject, workload, iss string
	}{
		{"github", gh.Token(ghClaims("acme/app", "refs/heads/main", nil)), "ci:acme/app@main", "github-actions", gh.URL()},
		{"gitlab", gl.Token(glClaims), "gitlab:acme/app#1234567", "gitlab-ci", gl.URL()},
		{"person", people.Token(map[string]any{"aud": "hoop-cli", "sub": "alice"}), "alice", "", people.URL()},
	} {
		id, err := vs.Verify(ctx, tt.token)
		if err != nil {
			t.Errorf("%s: refused: %v", tt.name, err)
			continue
		}
		if id.Subject != tt.subject || id.Workload != tt.workload || id.Issuer != tt.iss {
			t.Errorf("%s: got %q of %q from %s, want %q of %q from %s", tt.name, id.Subject, id.Workload, id.Issuer, tt.subject, tt.workload, tt.iss)
		}
	}

	for _, tt := range []struct{ name, token, want string }{
		{"GitHub's claims from GitLab",
			gl.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"aud": "https://hoop.example.com"})),
			"invalid token: workload gitlab-ci: the token's claims match no mapping: namespace_path (none), project_id (none), ref_protected (none)"},
		{"GitHub's audience at GitLab", gl.Token(ghClaims("acme/app", "refs/heads/main", nil)), `must be issued for audience "https://hoop.example.com"`},
		{"an unprotected ref", gl.Token(map[string]any{"aud": "https://hoop.example.com", "namespace_path": "acme", "project_id": 42, "ref_protected": false}),
			`the token's claims match no mapping: namespace_path="acme", project_id="42", ref_protected="false"`},
		{"a fractional project id", gl.Token(map[string]any{"aud": "https://hoop.example.com", "namespace_path": "acme", "project_id": 42.5, "ref_protected": true}),
			`project_id (not a string)`},
		{"GitLab signing as GitHub", gl.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"iss": gh.URL()})), "failed to verify signature"},
	} {
		_, err := vs.Verify(ctx, tt.token)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestWorkloadIssuerDown: a workload issuer that can't be reached makes its tokens fail
// as unavailable (the gateway answers 503, not 401), and nobody else's.
func TestWorkloadIssuerDown(t *testing.T) {
	people := testissuer.New(t)
	gone := testissuer.New(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	vs := identity.NewVerifiers(identity.Config{Issuer: people.URL(), Audience: "hoop-cli"},
		[]identity.Workload{githubActions(down.URL)})
	ctx := context.Background()

	tok := gone.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"iss": down.URL}))
	if _, err := vs.Verify(ctx, tok); !errors.Is(err, identity.ErrIssuerUnavailable) {
		t.Errorf("workload issuer down: got %v, want ErrIssuerUnavailable", err)
	}
	if id, err := vs.Verify(ctx, people.Token(map[string]any{"aud": "hoop-cli", "sub": "alice"})); err != nil || id.Subject != "alice" {
		t.Errorf("person, with a workload issuer down: got %v, %v", id, err)
	}
}

// TestNewVerifiers: what NewVerifiers does with workloads the gateway config refuses: each
// issuer is trusted once, and a mapping with no conditions matches no token.
func TestNewVerifiers(t *testing.T) {
	people := testissuer.New(t)
	gh := testissuer.New(t)
	anything := []identity.Mapping{{Identity: "ci:{repository}", Groups: []string{"admin"}}}
	vs := identity.NewVerifiers(identity.Config{Issuer: people.URL(), Audience: "hoop-cli"}, []identity.Workload{
		{Name: "people-again", Issuer: people.URL(), Audience: "hoop", Mappings: anything},
		githubActions(gh.URL()),
		{Name: "github-again", Issuer: gh.URL(), Audience: "hoop", Mappings: anything},
		{Name: "no-audience", Issuer: "https://no-audience.example.com", Mappings: anything},
	})
	ctx := context.Background()
	if vs.People() == nil {
		t.Fatal("People: nil")
	}

	// The people's issuer stays the people's.
	if _, err := vs.Verify(ctx, people.Token(ghClaims("acme/app", "refs/heads/main", map[string]any{"aud": "hoop"}))); !errors.Is(err, identity.ErrWrongAudience) {
		t.Errorf("a people's token for the other workload: got %v, want ErrWrongAudience", err)
	}
	// The first workload of an issuer is the one.
	if id, err := vs.Verify(ctx, gh.Token(ghClaims("evil/app", "refs/heads/main", nil))); !errors.Is(err, identity.ErrNoMapping) {
		t.Errorf("github-again's mapping with no conditions: got %+v, %v; want ErrNoMapping", id, err)
	}

	// A workload with no conditions matches nothing.
	only := identity.NewVerifiers(identity.Config{}, []identity.Workload{{Name: "open", Issuer: gh.URL(), Audience: "hoop", Mappings: anything}})
	if only.People() != nil {
		t.Errorf("People with no people's issuer: got a verifier")
	}
	if id, err := only.Verify(ctx, gh.Token(ghClaims("evil/app", "refs/heads/main", nil))); !errors.Is(err, identity.ErrNoMapping) {
		t.Errorf("a mapping with no conditions: got %+v, %v; want ErrNoMapping", id, err)
	}
	if _, err := only.Verify(ctx, people.Token(map[string]any{"aud": "hoop-cli", "sub": "alice"})); !errors.Is(err, identity.ErrUntrustedIssuer) {
		t.Errorf("a people's token with no people's issuer: got %v, want ErrUntrustedIssuer", err)
	}
	if _, err := only.Verify(ctx, " "); !errors.Is(err, identity.ErrNoToken) {
		t.Errorf("blank token: got %v, want ErrNoToken", err)
	}
}

func TestTemplateClaims(t *testing.T) {
	tests := []struct {
		template string
		want     []string
		err      string
	}{
		{"ci:{repository}@{ref_name}", []string{"repository", "ref_name"}, ""},
		{"{sub}", []string{"sub"}, ""},
		{"gitlab:{project_path}#{pipeline_id}", []string{"project_path", "pipeline_id"}, ""},
		{"ci:deploy", nil, "names no claim, so every token would get the same identity: put a claim in braces, such as ci:{repository}"},
		{"", nil, "names no claim, so every token would get the same identity: put a claim in braces, such as ci:{repository}"},
		{"ci:{repository", nil, "unbalanced braces: { at byte 4 is not closed"},
		{"ci:{repo{sitory}}", nil, "unbalanced braces: { at byte 4 is not closed"},
		{"ci:repository}", nil, "unbalanced braces: } at byte 14 closes no {"},
		{"ci:{repository}}", nil, "unbalanced braces: } at byte 16 closes no {"},
		{"ci:{}", nil, "empty {} at byte 4: name a claim, such as {repository}"},
		{"ci:{ repository }", nil, `claim name " repository " has a space`},
	}
	for _, tt := range tests {
		got, err := identity.TemplateClaims(tt.template)
		if msg := errString(err); msg != tt.err {
			t.Errorf("TemplateClaims(%q): got error %q, want %q", tt.template, msg, tt.err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("TemplateClaims(%q) (-want +got):\n%s", tt.template, diff)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
