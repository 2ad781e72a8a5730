package postgres

import (
	"context"
	"testing"

	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// Another session that takes a rescue code between the checks of an import and its write makes
// the import fail whole, with an ECONFLICT that names the row and the code.
func TestImportLosesRescueCodeToAnotherSession(t *testing.T) {
	db, err := Open(context.Background(), pgtest.MustDatabase(t), Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	storetest.ImportLosesRescueCode(t, db, &db.beforeImportWrite, 20, 12)
}
