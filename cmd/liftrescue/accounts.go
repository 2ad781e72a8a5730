package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/auth"
)

// demoKeyEnv names the demo's admin API key, so that scripts can use the demo with a key they
// know: Authorization: Bearer $LIFTRESCUE_DEMO_API_KEY.
const demoKeyEnv = "LIFTRESCUE_DEMO_API_KEY"

// bootstrapAdmin makes the first administrator when there is no user at all, and prints its
// password this once: a fresh "serve" is never open to anyone, and never locked to everyone.
func (m *Main) bootstrapAdmin(ctx context.Context, out io.Writer) error {
	users, err := m.Store.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return err
	}
	pw := newPassword()
	u := &liftrescue.User{Username: "admin", Name: "Administrator", Role: liftrescue.RoleAdmin}
	if err := m.Auth.CreateUser(ctx, u, pw); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nfirst start: made the administrator\n  username  admin\n  password  %s\nsign in at %s/ and change it; it is not shown again\n\n", pw, m.URL())
	return nil
}

// demoAccount is one of the demo's people.
type demoAccount struct {
	username, name, password string
	role                     liftrescue.Role
	district                 string
}

// demoAccounts are the demo's people: one per role, and a district's dispatcher. Their passwords
// are fixed, so that they stay what the demo printed the first time.
func demoAccounts(district string) []demoAccount {
	return []demoAccount{
		{"admin", "管理员", "admin-demo-2026", liftrescue.RoleAdmin, ""},
		{"dispatcher", "张敏（调度员）", "dispatch-demo-2026", liftrescue.RoleDispatcher, ""},
		{"planner", "李强（网格规划）", "planner-demo-2026", liftrescue.RolePlanner, ""},
		{"supervisor", "王芳（值班主任）", "supervisor-demo-2026", liftrescue.RoleSupervisor, ""},
		{"district", "赵磊（区调度员）", "district-demo-2026", liftrescue.RoleDispatcher, district},
	}
}

// ensureDemoAccounts makes (or restores) the demo's people and its admin API key, prints them,
// and returns the key.
func (m *Main) ensureDemoAccounts(ctx context.Context, out io.Writer) (string, error) {
	ds, err := m.Store.ListDistricts(ctx)
	if err != nil {
		return "", err
	}
	district := ""
	if len(ds) > 0 {
		district = ds[0].Code
	}
	fmt.Fprintf(out, "  sign in   ")
	for i, a := range demoAccounts(district) {
		if a.username == "district" && district == "" {
			continue // a city without districts has no district dispatcher
		}
		u, err := m.Store.FindUserByName(ctx, a.username)
		switch {
		case liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND:
			err = m.Auth.CreateUser(ctx, &liftrescue.User{Username: a.username, Name: a.name, Role: a.role, District: a.district}, a.password)
		case err == nil:
			u.Name, u.Role, u.District, u.Disabled = a.name, a.role, a.district, false
			err = m.Auth.UpdateUser(ctx, u, a.password)
			if err == nil {
				err = m.Store.RecordSignIn(ctx, u.ID, 0, nil, u.LastSignInAt) // unlock after a demo's guessing
			}
		}
		if err != nil {
			return "", fmt.Errorf("demo user %s: %w", a.username, err)
		}
		if i > 0 {
			fmt.Fprintf(out, "            ")
		}
		scope := "city"
		if a.district != "" {
			scope = "district " + a.district
		}
		fmt.Fprintf(out, "%-10s / %-20s %s, %s\n", a.username, a.password, a.role, scope)
	}
	key, err := m.demoKey(ctx)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "  API key   %s (admin scopes; %s chooses it)\n", key, demoKeyEnv)
	return key, nil
}

// demoKey makes the demo's admin key, from the environment or new, and revokes the keys earlier
// demo runs made.
func (m *Main) demoKey(ctx context.Context) (string, error) {
	want := os.Getenv(demoKeyEnv)
	keys, err := m.Store.ListAPIKeys(ctx)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if k.Name != "demo" || k.RevokedAt != nil {
			continue
		}
		if want != "" && k.Hash == auth.Hash(want) {
			return want, nil // already there
		}
		if err := m.Auth.RevokeAPIKey(ctx, k.ID); err != nil {
			return "", err
		}
	}
	k := &liftrescue.APIKey{Name: "demo", Scopes: liftrescue.Permissions, CreatedBy: "demo"}
	if want != "" {
		return m.Auth.AddAPIKey(ctx, k, want)
	}
	return m.Auth.NewAPIKey(ctx, k)
}

// newPassword returns 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I).
func newPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// runUser manages people: add, list, password.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var u liftrescue.User
	var role, password string
	f := newFlags("user", `liftrescue user add|list|password [USERNAME] [flags]: manage who signs in

  add USERNAME       make a user (--role, --name, --district); the password is --password, or a
                     new one printed once
  list               every user, with role, district and state
  password USERNAME  set a new password (--password, or a new one printed once); unlocks the
                     account and signs the user out everywhere
Works on the database "serve" uses (--data or --db).`)
	f.SetOutput(stderr)
	cfg.storeFlags(f)
	f.String(&role, "role", "dispatcher", "admin, dispatcher, planner or supervisor")
	f.String(&u.Name, "name", "", "the name shown in the console and the timeline")
	f.String(&u.District, "district", "", "6-digit district code for a district's staff; empty: city-wide")
	f.String(&password, "password", "", "the password (at least 10 characters); empty: a new one is made and printed")
	verb, name, err := verbAndName(f, &cfg, args, "want: liftrescue user add|password USERNAME, or liftrescue user list")
	if err != nil {
		return err
	}
	return withAccounts(ctx, &cfg, func(store liftrescue.Store, svc *auth.Service) error {
		made := password == ""
		if made {
			password = newPassword()
		}
		switch verb {
		case "add":
			u.Username, u.Role = name, liftrescue.Role(role)
			if err := svc.CreateUser(ctx, &u, password); err != nil {
				return describe(err)
			}
			fmt.Fprintf(stdout, "made %s (%s)\n", u.Username, u.Role)
		case "password":
			old, err := store.FindUserByName(ctx, strings.ToLower(name))
			if err != nil {
				return describe(err)
			}
			if err := svc.UpdateUser(ctx, old, password); err != nil {
				return describe(err)
			}
			if err := store.RecordSignIn(ctx, old.ID, 0, nil, old.LastSignInAt); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new password for %s; signed out everywhere\n", old.Username)
		case "list":
			users, err := store.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSERNAME\tNAME\tROLE\tDISTRICT\tSTATE")
			for _, u := range users {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Name, u.Role, orDash(u.District), userState(u, time.Now()))
			}
			return tw.Flush()
		default:
			return fmt.Errorf("unknown: liftrescue user %s (add, list or password)", verb)
		}
		if made {
			fmt.Fprintf(stdout, "password  %s\n(shown this once)\n", password)
		}
		return nil
	})
}

// runKey manages API keys: add, list, revoke.
func runKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var k liftrescue.APIKey
	var scopes string
	f := newFlags("key", `liftrescue key add|list|revoke [NAME|ID] [flags]: manage external systems' API keys

  add NAME     make a key with --scopes (and --district); the key is printed once
  list         every key, never the key itself
  revoke ID    revoke a key at once
Scopes: `+strings.Join(permissionNames(), ", ")+`
e.g. the city hotline: --scopes read,incidents:open; an IoT platform: --scopes alarms:post
Works on the database "serve" uses (--data or --db).`)
	f.SetOutput(stderr)
	cfg.storeFlags(f)
	f.String(&scopes, "scopes", "", "comma separated permissions of the key")
	f.String(&k.District, "district", "", "6-digit district code to hold the key to; empty: city-wide")
	verb, name, err := verbAndName(f, &cfg, args, "want: liftrescue key add NAME --scopes …, key list, or key revoke ID")
	if err != nil {
		return err
	}
	return withAccounts(ctx, &cfg, func(store liftrescue.Store, svc *auth.Service) error {
		switch verb {
		case "add":
			k.Name, k.CreatedBy = name, "command line"
			for _, s := range strings.Split(scopes, ",") {
				if s = strings.TrimSpace(s); s != "" {
					k.Scopes = append(k.Scopes, liftrescue.Permission(s))
				}
			}
			key, err := svc.NewAPIKey(ctx, &k)
			if err != nil {
				return describe(err)
			}
			fmt.Fprintf(stdout, "made key %d %q with %s\nkey  %s\n(shown this once)\n", k.ID, k.Name, scopes, key)
		case "revoke":
			id, err := strconv.ParseInt(name, 10, 64)
			if err != nil {
				return fmt.Errorf("revoke: want the key's id (liftrescue key list), not %q", name)
			}
			if err := svc.RevokeAPIKey(ctx, id); err != nil {
				return describe(err)
			}
			fmt.Fprintf(stdout, "revoked key %d\n", id)
		case "list":
			keys, err := store.ListAPIKeys(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tDISTRICT\tLAST USED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, joinPerms(k.Scopes), orDash(k.District),
					timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt))
			}
			return tw.Flush()
		default:
			return fmt.Errorf("unknown: liftrescue key %s (add, list or revoke)", verb)
		}
		return nil
	})
}

// verbAndName reads "VERB [NAME] [flags]": every verb but list names someone.
func verbAndName(f *flags, cfg *Config, args []string, want string) (verb, name string, err error) {
	verb, name, rest := importArgs(f.FlagSet, args)
	if err := f.parse(rest); err != nil {
		return "", "", err
	}
	if err := cfg.Validate(); err != nil {
		return "", "", err
	}
	if verb == "" || verb != "list" && name == "" {
		f.Usage()
		return "", "", fmt.Errorf("%s", want)
	}
	return verb, name, nil
}

// withAccounts opens the store and the account service for a command.
func withAccounts(ctx context.Context, cfg *Config, fn func(liftrescue.Store, *auth.Service) error) error {
	store, err := openStore(ctx, cfg, "liftrescue")
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store, auth.New(store, nil, nil))
}

// describe puts an EINVALID error's details into its message, for a terminal.
func describe(err error) error {
	ds := liftrescue.ErrorDetails(err)
	if len(ds) == 0 {
		return err
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Field + ": " + d.Reason
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

func userState(u *liftrescue.User, now time.Time) string {
	switch {
	case u.Disabled:
		return "disabled"
	case u.LockedUntil != nil && now.Before(*u.LockedUntil):
		return "locked until " + u.LockedUntil.Local().Format(time.DateTime)
	}
	return "active"
}

func permissionNames() []string {
	out := make([]string, len(liftrescue.Permissions))
	for i, p := range liftrescue.Permissions {
		out[i] = string(p)
	}
	return out
}

func joinPerms(ps []liftrescue.Permission) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
