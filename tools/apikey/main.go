// Command apikey generates an API key for edgeguard and prints it with the
// configuration entry that holds only its SHA-256 hash. The key itself is
// shown once and never stored by the gateway; hand it to the client over a
// secure channel.
//
//	apikey -id acme-2030 -client acme [-tier gold] [-scopes orders:read,orders:write] [-routes orders]
//	apikey -hash < keyfile      print the hash of an existing key read from stdin
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/auth/apikey"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "apikey:", err)
		os.Exit(2)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apikey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "key id (in metrics and the access log), e.g. acme-2030")
	client := fs.String("client", "", "client name")
	tier := fs.String("tier", "", "rate-limit tier")
	scopes := fs.String("scopes", "", "comma-separated scopes")
	routes := fs.String("routes", "", "comma-separated route names the key may call (default: every route accepting api_key)")
	notAfter := fs.String("not-after", "", "RFC 3339 expiry, e.g. 2031-01-01T00:00:00Z")
	hashOnly := fs.Bool("hash", false, "read a key from stdin and print its hash")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hashOnly {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read key: %w", err)
		}
		key := strings.TrimRight(line, "\r\n")
		if key == "" {
			return errors.New("read key: empty input")
		}
		sum := sha256.Sum256([]byte(key))
		fmt.Fprintf(stdout, "sha256:%s\n", hex.EncodeToString(sum[:]))
		return nil
	}
	if *id == "" || *client == "" {
		fs.Usage()
		return errors.New("-id and -client are required")
	}
	key, hash, err := apikey.Generate()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# API key for %s (shown once, store it with the client; the gateway keeps only the hash):\n", *client)
	fmt.Fprintf(stdout, "#   %s\n", key)
	fmt.Fprintf(stdout, "# Add under auth.api_keys.keys:\n")
	fmt.Fprintf(stdout, "- id: %s\n  client: %s\n", *id, *client)
	if *tier != "" {
		fmt.Fprintf(stdout, "  tier: %s\n", *tier)
	}
	fmt.Fprintf(stdout, "  hash: \"sha256:%s\"\n", hash)
	if *scopes != "" {
		fmt.Fprintf(stdout, "  scopes: [%s]\n", strings.Join(split(*scopes), ", "))
	}
	if *routes != "" {
		fmt.Fprintf(stdout, "  routes: [%s]\n", strings.Join(split(*routes), ", "))
	}
	if *notAfter != "" {
		fmt.Fprintf(stdout, "  not_after: %q\n", *notAfter)
	}
	return nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
