package storetest

import (
	"testing"

	"github.com/liftrescue/liftrescue"
)

// isMadeUpSecret reports whether s looks like a secret the store makes up (NewDeviceSecret).
func isMadeUpSecret(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// A vehicle fitted with a tracker has a device secret: the one given, else one the store makes
// up. Replacing the vehicle keeps the secret while the same tracker stays fitted and no secret is
// given; a new tracker gets a new one; no tracker, no secret.
func testVehicleDeviceSecrets(t *testing.T, f *fixture) {
	f.district(t, "370402", "市中区")
	vol := f.org(t, "91370400VOL0000001", liftrescue.OrgVolunteer, "370402")
	team := &liftrescue.Team{OrganizationID: vol.ID, Name: "一队"}
	MustOK(t, f.s.CreateTeam(f.ctx, team))

	// stored checks that what FindVehicle and ListVehicles give back carries the secret.
	stored := func(t *testing.T, v *liftrescue.Vehicle, want string) {
		t.Helper()
		if v.DeviceSecret != want {
			t.Fatalf("vehicle %d after the write has secret %q, want %q", v.ID, v.DeviceSecret, want)
		}
		got, err := f.s.FindVehicle(f.ctx, v.ID)
		MustOK(t, err)
		if got.DeviceSecret != want || got.DeviceID != v.DeviceID {
			t.Fatalf("FindVehicle(%d) has device %q secret %q, want %q %q", v.ID, got.DeviceID, got.DeviceSecret, v.DeviceID, want)
		}
		list, err := f.s.ListVehicles(f.ctx, liftrescue.VehicleFilter{TeamID: team.ID})
		MustOK(t, err)
		for _, l := range list.Items {
			if l.ID == v.ID && l.DeviceSecret != want {
				t.Fatalf("ListVehicles gives vehicle %d the secret %q, want %q", v.ID, l.DeviceSecret, want)
			}
		}
	}

	a := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D10001", DeviceID: "013900000001"}
	MustOK(t, f.s.CreateVehicle(f.ctx, a))
	if !isMadeUpSecret(a.DeviceSecret) {
		t.Fatalf("vehicle created with a tracker and no secret got %q, want 16 hex digits", a.DeviceSecret)
	}
	stored(t, a, a.DeviceSecret)
	b := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D10002", DeviceID: "013900000002"}
	MustOK(t, f.s.CreateVehicle(f.ctx, b))
	if !isMadeUpSecret(b.DeviceSecret) || b.DeviceSecret == a.DeviceSecret {
		t.Fatalf("two vehicles got the secrets %q and %q, want two different ones of 16 hex digits", a.DeviceSecret, b.DeviceSecret)
	}
	given := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D10003", DeviceID: "013900000003", DeviceSecret: " Xy-7!~q=Z "}
	MustOK(t, f.s.CreateVehicle(f.ctx, given))
	stored(t, given, "Xy-7!~q=Z")
	bare := &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D10004"}
	MustOK(t, f.s.CreateVehicle(f.ctx, bare))
	stored(t, bare, "")
	MustCode(t, f.s.CreateVehicle(f.ctx, &liftrescue.Vehicle{TeamID: team.ID, Plate: "鲁D10005", DeviceSecret: "secret-without-tracker"}),
		liftrescue.EINVALID)

	t.Run("same tracker keeps its secret", func(t *testing.T) {
		was := a.DeviceSecret
		edit := *a
		edit.Plate, edit.OnDuty, edit.DeviceSecret = "鲁D20001", true, ""
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		stored(t, &edit, was)
		*a = edit
	})
	t.Run("a secret given replaces the stored one", func(t *testing.T) {
		edit := *a
		edit.DeviceSecret = "replaced-secret-42"
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		stored(t, &edit, "replaced-secret-42")
		edit.DeviceSecret = ""
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		stored(t, &edit, "replaced-secret-42")
		*a = edit
	})
	t.Run("a new tracker gets a new secret", func(t *testing.T) {
		was := a.DeviceSecret
		edit := *a
		edit.DeviceID, edit.DeviceSecret = "013900000009", ""
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		if !isMadeUpSecret(edit.DeviceSecret) || edit.DeviceSecret == was {
			t.Fatalf("new tracker got the secret %q (was %q), want a new one of 16 hex digits", edit.DeviceSecret, was)
		}
		stored(t, &edit, edit.DeviceSecret)
		// The secret that came back may be sent again unchanged, as a client that read the
		// vehicle does; it stays.
		again := edit
		MustOK(t, f.s.UpdateVehicle(f.ctx, &again))
		stored(t, &again, edit.DeviceSecret)
		*a = again
	})
	t.Run("a new tracker with its secret", func(t *testing.T) {
		edit := *b
		edit.DeviceID, edit.DeviceSecret = "013900000010", "tracker-10-secret"
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		stored(t, &edit, "tracker-10-secret")
		*b = edit
	})
	t.Run("no tracker, no secret", func(t *testing.T) {
		edit := *b
		edit.DeviceID, edit.DeviceSecret = "", ""
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		stored(t, &edit, "")
		// Fitting a tracker again, even the one taken off, makes a new secret.
		edit.DeviceID = "013900000010"
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		if !isMadeUpSecret(edit.DeviceSecret) || edit.DeviceSecret == "tracker-10-secret" {
			t.Fatalf("tracker fitted again got the secret %q, want a new one of 16 hex digits", edit.DeviceSecret)
		}
		stored(t, &edit, edit.DeviceSecret)
	})
	t.Run("a tracker fitted to a bare vehicle", func(t *testing.T) {
		edit := *bare
		edit.DeviceID = "013900000011"
		MustOK(t, f.s.UpdateVehicle(f.ctx, &edit))
		if !isMadeUpSecret(edit.DeviceSecret) {
			t.Fatalf("tracker fitted got the secret %q, want 16 hex digits", edit.DeviceSecret)
		}
		stored(t, &edit, edit.DeviceSecret)
	})
	t.Run("a secret without a tracker is refused", func(t *testing.T) {
		edit := *given
		edit.DeviceID = ""
		MustCode(t, f.s.UpdateVehicle(f.ctx, &edit), liftrescue.EINVALID)
		stored(t, given, "Xy-7!~q=Z")
	})
	t.Run("a failed write keeps the stored secret", func(t *testing.T) {
		edit := *given
		edit.Plate, edit.DeviceSecret = a.Plate, "" // taken by a
		MustCode(t, f.s.UpdateVehicle(f.ctx, &edit), liftrescue.ECONFLICT)
		stored(t, given, "Xy-7!~q=Z")
	})
}

// MustMigratedSecrets checks the vehicles of a database migrated to device secrets from one
// without: the vehicles with a tracker have secrets of 16 hex digits, each its own; the others
// none.
func MustMigratedSecrets(tb testing.TB, vs []*liftrescue.Vehicle) {
	tb.Helper()
	seen := map[string]bool{}
	withTracker := 0
	for _, v := range vs {
		switch {
		case v.DeviceID == "" && v.DeviceSecret != "":
			tb.Errorf("vehicle %d has no tracker but the secret %q", v.ID, v.DeviceSecret)
		case v.DeviceID == "":
		case !isMadeUpSecret(v.DeviceSecret) || seen[v.DeviceSecret]:
			tb.Errorf("vehicle %d with tracker %s has the secret %q, want 16 hex digits of its own", v.ID, v.DeviceID, v.DeviceSecret)
		default:
			seen[v.DeviceSecret] = true
			withTracker++
		}
	}
	if withTracker < 2 || withTracker == len(vs) {
		tb.Fatalf("%d of %d vehicles have a tracker; the check wants several with one and one without", withTracker, len(vs))
	}
}
