package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"authapi/adapters/hasher"
	"authapi/app/admin"
	"authapi/domain"
	"authapi/ports"
)

// The operators' commands, `authapi admin-keys` and `authapi users`, act on
// the service's own configuration, for an operator with a shell on a
// machine that runs it and no admin key. Each change is recorded in the
// audit log with the command line as its actor.

// operatorCommand is one subcommand: its name, what it takes, and what it
// does with the admin service and its arguments.
type operatorCommand struct {
	name, args, summary string
	// options are the command's own flags, beside the settings.
	options []string
	// positional is how many arguments it takes after the flags.
	positional int
	// argOption, if set, is an option that may give the one positional
	// argument instead, as in `admin-keys create --name ops`.
	argOption string
	run       func(ctx context.Context, ops *admin.Service, opts map[string]string, args []string, out io.Writer) error
}

var cliOperator = ports.Operator{Actor: domain.ActorCLI}

var adminKeyCommands = []operatorCommand{
	{name: "create", args: "NAME", summary: "make a key, print it once, and keep only its hash (NAME or --name NAME)", positional: 1,
		options: []string{"name"}, argOption: "name",
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
			key, err := ops.CreateAdminKey(ctx, cliOperator, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n", key)
			fmt.Fprintf(out, "# the admin key %q: send it as \"Authorization: Bearer <key>\". It is shown this once; the service keeps only its hash.\n", args[0])
			return nil
		}},
	{name: "list", summary: "list the keys: name, creation, revocation (never the keys)",
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, _ []string, out io.Writer) error {
			keys, err := ops.AdminKeys(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tCREATED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\n", k.Name, k.CreatedAt.Format(time.RFC3339), orDash(k.RevokedAt))
			}
			return w.Flush()
		}},
	{name: "revoke", args: "NAME", summary: "revoke a key at once; its name is never reused", positional: 1,
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
			if err := ops.RevokeAdminKey(ctx, cliOperator, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "revoked the admin key %q\n", args[0])
			return nil
		}},
}

var userCommands = []operatorCommand{
	{name: "list", args: "[--email PREFIX] [--state STATE] [--limit N] [--after ID]",
		summary: "list accounts in creation order, by email prefix and state (active, inactive, disabled, locked)",
		options: []string{"email", "state", "limit", "after"},
		run: func(ctx context.Context, ops *admin.Service, opts map[string]string, _ []string, out io.Writer) error {
			q := ports.UserQuery{EmailPrefix: domain.Email(opts["email"]), State: ports.UserState(opts["state"]), After: opts["after"]}
			// A limit given is taken as given, 0 too: only its absence
			// means the default page size.
			if raw, given := opts["limit"]; given {
				n, err := strconv.Atoi(raw)
				if err != nil || n < 1 || n > ports.MaxPageSize {
					return domain.ValidationError("limit", fmt.Sprintf("must be a whole number from 1 to %d", ports.MaxPageSize))
				}
				q.Limit = n
			}
			page, err := ops.ListUsers(ctx, q)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tEMAIL\tSTATE\tCREATED\tLAST LOGIN")
			for _, u := range page.Users {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.State(),
					u.CreatedAt.Format(time.RFC3339), orDash(u.LastLoginAt))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if page.Next != "" {
				fmt.Fprintf(out, "# more: add --after %s\n", page.Next)
			}
			return nil
		}},
	{name: "show", args: "ID|EMAIL", summary: "show an account: state, lock, last login, live sessions", positional: 1,
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
			d, err := ops.User(ctx, args[0])
			if err != nil {
				return err
			}
			printAccount(out, d)
			return nil
		}},
	{name: "disable", args: "ID|EMAIL", summary: "stop an account from logging in and end its sessions", positional: 1,
		run: change(func(c *ports.AccountChange) { c.Disabled = ptr(true) })},
	{name: "enable", args: "ID|EMAIL", summary: "let a disabled account log in again", positional: 1,
		run: change(func(c *ports.AccountChange) { c.Disabled = ptr(false) })},
	{name: "reset-mfa", args: "ID|EMAIL", summary: "turn an account's two-step login off, for an owner who lost both the authenticator and the recovery codes", positional: 1,
		run: change(func(c *ports.AccountChange) { c.MFAEnabled = ptr(false) })},
	{name: "unlock", args: "ID|EMAIL", summary: "lift an account's login lock", positional: 1,
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
			if err := ops.UnlockUser(ctx, cliOperator, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "lifted the login lock of %s\n", args[0])
			return nil
		}},
	{name: "revoke-sessions", args: "ID|EMAIL", summary: "end every session of an account", positional: 1,
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
			n, err := ops.RevokeSessions(ctx, cliOperator, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "ended %d session(s) of %s\n", n, args[0])
			return nil
		}},
	{name: "delete", args: "ID|EMAIL", summary: "delete an account and its sessions", positional: 1,
		run: func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
			if err := ops.DeleteUser(ctx, cliOperator, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "deleted %s\n", args[0])
			return nil
		}},
}

func ptr[T any](v T) *T { return &v }

// change is a command that applies one account change and shows the result.
func change(edit func(*ports.AccountChange)) func(context.Context, *admin.Service, map[string]string, []string, io.Writer) error {
	return func(ctx context.Context, ops *admin.Service, _ map[string]string, args []string, out io.Writer) error {
		var c ports.AccountChange
		edit(&c)
		d, err := ops.UpdateUser(ctx, cliOperator, args[0], c)
		if err != nil {
			return err
		}
		printAccount(out, d)
		return nil
	}
}

func printAccount(out io.Writer, d ports.AccountDetails) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "id:\t%s\n", d.ID)
	fmt.Fprintf(w, "email:\t%s\n", d.Email)
	fmt.Fprintf(w, "name:\t%s %s\n", d.FirstName, d.LastName)
	fmt.Fprintf(w, "state:\t%s\n", d.State())
	fmt.Fprintf(w, "locked until:\t%s\n", orDash(d.LockedUntil))
	fmt.Fprintf(w, "created:\t%s\n", d.CreatedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "last login:\t%s\n", orDash(d.LastLoginAt))
	fmt.Fprintf(w, "live sessions:\t%d\n", d.LiveSessions)
	w.Flush()
}

func orDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// operatorsMain runs `authapi GROUP SUBCOMMAND [flags] [ARGS]` for one of
// the operators' command groups and returns the exit code.
func operatorsMain(ctx context.Context, group string, commands []operatorCommand, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "authapi: %s takes a subcommand:\n", group)
		for _, c := range commands {
			fmt.Fprintf(w, "  authapi %s %s [flags] %s\t%s\n", group, c.name, c.args, c.summary)
		}
		fmt.Fprintf(w, "The flags are the service's settings (authapi %s %s --help lists them).\n", group, commands[0].name)
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	// Asked for, the usage is the answer, not a mistake.
	if slices.Contains([]string{"help", "-h", "-help", "--help"}, args[0]) {
		usage(stdout)
		return 0
	}
	i := slices.IndexFunc(commands, func(c operatorCommand) bool { return c.name == args[0] })
	if i < 0 {
		usage(stderr)
		return 2
	}
	cmd := commands[i]
	opts, rest, err := takeOptions(cmd.options, args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "authapi: %s %s: %v\n", group, cmd.name, err)
		return 2
	}
	cfg, positional, err := parseConfig(rest, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "authapi:", err)
		return 2
	}
	if v, given := opts[cmd.argOption]; given && cmd.argOption != "" {
		positional = append([]string{v}, positional...)
	}
	if len(positional) != cmd.positional {
		fmt.Fprintf(stderr, "authapi: %s %s takes %s\n", group, cmd.name, describeArgs(cmd))
		return 2
	}
	// The command's output is its answer; the log says only what went wrong.
	cfg.LogLevel = max(cfg.LogLevel, slog.LevelWarn)
	log := newLogger(cfg, stderr)
	st, err := openStorage(ctx, cfg, log, rand.Reader)
	if err != nil {
		log.Error("authapi stopped", "error", err)
		return 1
	}
	defer st.Close()
	// The service as it serves, but for its listeners: its emails queue in
	// the outbox, for the running service to deliver.
	mail, err := newMailer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Error("authapi stopped", "error", err)
		return 1
	}
	svc, err := wire(ctx, cfg, log, st, runtimeDeps{
		mailer: mail, clock: systemClock{}, random: rand.Reader, hashParams: hasher.DefaultParams(), outbox: cfg.Outbox,
	})
	if err != nil {
		log.Error("authapi stopped", "error", err)
		return 1
	}
	ops := svc.operators
	if err := cmd.run(ctx, ops, opts, positional, stdout); err != nil {
		fmt.Fprintf(stderr, "authapi: %s %s: %s\n", group, cmd.name, explain(err))
		return 1
	}
	return 0
}

func describeArgs(cmd operatorCommand) string {
	if cmd.positional == 0 {
		return "no arguments"
	}
	return "one argument, " + strings.Fields(cmd.args)[0]
}

// explain says what went wrong in words an operator acts on: a domain
// error's message and fields, anything else as it is.
func explain(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err.Error()
	}
	if len(de.Fields) == 0 {
		return de.Message
	}
	var parts []string
	for _, f := range de.Fields {
		parts = append(parts, f.Field+" "+f.Message)
	}
	return strings.Join(parts, "; ")
}

// takeOptions takes the command's own flags (--name value or --name=value)
// out of args, wherever they are, and leaves the rest for the settings.
func takeOptions(names []string, args []string) (map[string]string, []string, error) {
	opts := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !strings.HasPrefix(arg, "-") || !slices.Contains(names, name) {
			rest = append(rest, arg)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			value = args[i]
		}
		opts[name] = value
	}
	return opts, rest, nil
}
