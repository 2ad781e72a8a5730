package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// elevatorPosition is what EachElevatorPosition hands fn.
type elevatorPosition struct {
	ID       int64
	Lon, Lat float64
}

// eachElevatorPosition collects what EachElevatorPosition gives, calling also (when not nil) on
// each elevator after it is collected.
func (f *fixture) eachElevatorPosition(ctx context.Context, also func(elevatorPosition) error) ([]elevatorPosition, error) {
	var got []elevatorPosition
	err := f.s.EachElevatorPosition(ctx, func(id int64, lon, lat float64) error {
		p := elevatorPosition{id, lon, lat}
		got = append(got, p)
		if also != nil {
			return also(p)
		}
		return nil
	})
	return got, err
}

// The positions of every elevator come in id order, exactly as stored, whoever stored them.
func testEachElevatorPosition(t *testing.T, f *fixture) {
	got, err := f.eachElevatorPosition(f.ctx, nil)
	MustOK(t, err)
	if len(got) != 0 {
		t.Fatalf("empty registry gave %v", got)
	}

	user, maint := f.city(t)
	var want []elevatorPosition
	// Positions with every bit of a float64 in use, and far corners of the world: nothing is
	// rounded on the way.
	places := [][2]float64{{117.55, 34.86}, {117.123456789012345, 34.987654321098765}, {-179.999999999999, -89.9999999999},
		{180, 90}, {0.1 + 0.2, 1e-7}, {117.5, 34.8}}
	for i, p := range places {
		e := f.elevator(fmt.Sprintf("70000%d", i), fmt.Sprintf("311037040220150000%02d", i), p[0], p[1], user, maint)
		MustOK(t, f.s.CreateElevator(f.ctx, e))
		want = append(want, elevatorPosition{e.ID, p[0], p[1]})
	}
	// Gaps in the ids, a move, and elevators from an import among them.
	MustOK(t, f.s.DeleteElevator(f.ctx, want[2].ID))
	want = append(want[:2], want[3:]...)
	moved, err := f.s.FindElevator(f.ctx, want[0].ID)
	MustOK(t, err)
	moved.Lon, moved.Lat = 117.6543210987654, 34.7654321098765
	MustOK(t, f.s.UpdateElevator(f.ctx, moved))
	want[0] = elevatorPosition{moved.ID, moved.Lon, moved.Lat}
	rows := []liftrescue.ElevatorRow{elevatorRow(2, "800001", "31103704022015800001", user.Code, maint.Code),
		elevatorRow(3, "800002", "31103704022015800002", user.Code, maint.Code)}
	rows[0].Elevator.Lon, rows[0].Elevator.Lat = 117.31415926535897, 34.27182818284590
	rows[1].Elevator.Lon, rows[1].Elevator.Lat = 117.00000000000001, 34.99999999999999
	_, err = f.s.ImportElevators(f.ctx, rows, liftrescue.ImportOptions{})
	MustOK(t, err)
	for _, r := range rows {
		e, err := f.s.FindElevatorByCode(f.ctx, r.Elevator.RescueCode)
		MustOK(t, err)
		want = append(want, elevatorPosition{e.ID, r.Elevator.Lon, r.Elevator.Lat})
	}

	got, err = f.eachElevatorPosition(f.ctx, nil)
	MustOK(t, err)
	if fmt.Sprintf("%v", got) != fmt.Sprintf("%v", want) || len(got) != len(want) {
		t.Fatalf("EachElevatorPosition gave\n%v\nwant\n%v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("elevator %d: got %+v, want exactly %+v", want[i].ID, got[i], want[i])
		}
	}
}

// An error of fn stops the walk and comes back as it is; so does the end of ctx.
func testEachElevatorPositionStops(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	for i := range 5 {
		MustOK(t, f.s.CreateElevator(f.ctx, f.elevator(fmt.Sprintf("70000%d", i), fmt.Sprintf("311037040220150000%02d", i),
			117.5+float64(i)*0.01, 34.8, user, maint)))
	}

	errFull := errors.New("index full")
	got, err := f.eachElevatorPosition(f.ctx, func(p elevatorPosition) error {
		if p.Lon > 117.505 {
			return fmt.Errorf("elevator %d: %w", p.ID, errFull)
		}
		return nil
	})
	if !errors.Is(err, errFull) || len(got) != 2 {
		t.Fatalf("fn failing on the 2nd elevator: %d calls, error %v; want 2 calls and fn's error", len(got), err)
	}
	if err.Error() != fmt.Sprintf("elevator %d: index full", got[1].ID) {
		t.Errorf("error %q, want fn's error as it is", err)
	}

	ctx, cancel := context.WithCancel(f.ctx)
	got, err = f.eachElevatorPosition(ctx, func(elevatorPosition) error {
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) != 1 {
		t.Fatalf("ctx cancelled in the 1st call: %d calls, error %v; want 1 call and context.Canceled", len(got), err)
	}
	got, err = f.eachElevatorPosition(ctx, nil)
	if !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Fatalf("ctx cancelled before: %d calls, error %v; want none and context.Canceled", len(got), err)
	}

	// The store is still whole after walks that stopped: every connection went back in order.
	for range 20 {
		got, err = f.eachElevatorPosition(f.ctx, nil)
		MustOK(t, err)
		if len(got) != 5 {
			t.Fatalf("walk after stopped walks gave %d elevators, want 5", len(got))
		}
	}
}

// The walk reads one snapshot: what is written while it runs (here by fn itself, from another
// connection) is not seen, what is deleted still is.
func testEachElevatorPositionSnapshot(t *testing.T, f *fixture) {
	user, maint := f.city(t)
	var ids []int64
	for i := range 3 {
		e := f.elevator(fmt.Sprintf("70000%d", i), fmt.Sprintf("311037040220150000%02d", i), 117.5+float64(i)*0.01, 34.8, user, maint)
		MustOK(t, f.s.CreateElevator(f.ctx, e))
		ids = append(ids, e.ID)
	}
	got, err := f.eachElevatorPosition(f.ctx, func(p elevatorPosition) error {
		if p.ID != ids[0] {
			return nil
		}
		if err := f.s.CreateElevator(f.ctx, f.elevator("799999", "31103704022015999999", 117.6, 34.9, user, maint)); err != nil {
			return err
		}
		return f.s.DeleteElevator(f.ctx, ids[2])
	})
	MustOK(t, err)
	if len(got) != 3 || got[0].ID != ids[0] || got[1].ID != ids[1] || got[2].ID != ids[2] {
		t.Fatalf("walk while fn writes gave %v, want the elevators %v as they were when it began", got, ids)
	}
	got, err = f.eachElevatorPosition(f.ctx, nil)
	MustOK(t, err)
	if len(got) != 3 || got[1].ID != ids[1] || got[2].ID <= ids[2] {
		t.Fatalf("walk after the writes gave %v, want %d, %d and the new elevator", got, ids[0], ids[1])
	}
}
