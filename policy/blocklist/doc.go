// Package blocklist is the control plane's source of truth for the IP
// blocklist: it parses pushed lists (plain text in the FireHOL .netset and
// Spamhaus DROP styles, or JSON) while streaming them, keeps the accepted
// list with a version number, persists every accepted version atomically in
// a state directory, restores it at start, and applies each change to the
// enforcer (the XDP maps or the user-space filter) through one interface,
// recording when and how fast it was applied.
//
// A push is all or nothing: one bad line rejects it whole with every line
// number and reason, a push older than the current version is refused, and a
// change is acknowledged only once it is both durable on disk and live in
// the enforcer. The package must never serve HTTP or read configuration;
// policy/mgmt drives it.
package blocklist
