package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/liftrescue/liftrescue/store/storetest"
)

// Another writer that takes a rescue code between the checks of an import and its write makes
// the import fail whole, with an ECONFLICT that names the row and the code.
func TestImportLosesRescueCodeToAnotherWriter(t *testing.T) {
	for _, conflictAt := range []int{10, 100, 149} { // in a full batch of upserts, and in the last, short one
		t.Run(fmt.Sprint(conflictAt), func(t *testing.T) {
			db, err := Open(context.Background(), filepath.Join(t.TempDir(), "liftrescue.db"), Options{})
			storetest.MustOK(t, err)
			defer db.Close()
			storetest.ImportLosesRescueCode(t, db, &db.beforeImportWrite, 150, conflictAt)
		})
	}
}
