// Package outputtest holds the test servers that several outputs' tests
// share: an AWS SigV4 checker, a local AWS STS that answers AssumeRole, and
// the TLS-keys check of the HTTP outputs with Falcosidekick's checkcert and
// cacertfile keys. It is imported by _test.go files only.
package outputtest
