package app

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"authapi/adapters/keyfile"
	"authapi/adapters/token"
)

// keysMain runs `authapi keys rotate|list [flags]` and returns the exit
// code. Both read the same settings as the service, so that they act on the
// key file it uses and judge retirement by its token lifetimes.
func keysMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprintln(stderr, "authapi: keys takes a subcommand: authapi keys rotate [flags] or authapi keys list [flags]")
		return 2
	}
	sub := args[0]
	cfg, rest, err := parseConfig(args[1:], getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "authapi:", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "authapi: keys %s takes no arguments, got %q\n", sub, rest[0])
		return 2
	}
	now := systemClock{}.Now()
	if sub == "rotate" {
		err = rotateKeys(cfg, now, rand.Reader, stdout)
	} else {
		err = listKeys(cfg, now, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "authapi: keys %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// keyLifetime is how long an older key keeps verifying after the next key
// was added: the longest any token it signed can stay valid.
func keyLifetime(cfg Config) time.Duration {
	return max(cfg.AccessTokenTTL, cfg.RefreshTokenTTL)
}

// rotateKeys adds a key to the key file, dropping the keys retired at now,
// and reports the new kid. The running service keeps signing with its
// current key until it restarts: it loads the key file only at start.
// Rotation is not meant to run concurrently with itself: of two overlapping
// rotations one new key is lost, harmlessly, since nothing was signed with it.
func rotateKeys(cfg Config, now time.Time, random io.Reader, out io.Writer) error {
	keys, err := keyfile.ReadSigningKeys(cfg.SigningKeyFile)
	if err != nil {
		return err
	}
	if newest := keys[len(keys)-1].Created; now.Before(newest) {
		return fmt.Errorf("the newest key is dated %s, after the current time %s; check the clock",
			newest.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	kept, dropped := token.Prune(keys, now, keyLifetime(cfg))
	added, err := keyfile.GenerateSigningKey(random, now, now)
	if err != nil {
		return err
	}
	if err := keyfile.WriteSigningKeys(cfg.SigningKeyFile, append(kept, added)); err != nil {
		return err
	}
	kid, err := token.Thumbprint(&added.Private.PublicKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "added signing key %s to %s\n", kid, cfg.SigningKeyFile)
	fmt.Fprintln(out, "restart authapi (every instance) to sign with it; until then the previous key signs")
	for _, k := range dropped {
		if kid, err := token.Thumbprint(&k.Private.PublicKey); err == nil {
			fmt.Fprintf(out, "removed retired key %s\n", kid)
		}
	}
	fmt.Fprintln(out)
	return listKeys(cfg, now, out)
}

// listKeys prints each key's kid, creation time and state: public facts
// only, never key material.
func listKeys(cfg Config, now time.Time, out io.Writer) error {
	keys, err := keyfile.ReadSigningKeys(cfg.SigningKeyFile)
	if err != nil {
		return err
	}
	infos, err := token.Inspect(keys, now, keyLifetime(cfg))
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KID\tCREATED\tSTATE")
	for _, info := range infos {
		created := "unknown"
		if !info.Created.IsZero() {
			created = info.Created.UTC().Format(time.RFC3339)
		}
		state := info.State.String()
		switch info.State {
		case token.KeyNext:
			state += ", signs from " + info.ActiveFrom.UTC().Format(time.RFC3339)
		case token.KeyVerifying:
			state += " until " + info.RetiresAt.UTC().Format(time.RFC3339)
		case token.KeyRetired:
			state += " since " + info.RetiresAt.UTC().Format(time.RFC3339) + " (the next rotation removes it)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", info.ID, created, state)
	}
	return w.Flush()
}
