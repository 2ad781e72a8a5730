package csvimport

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/liftrescue/liftrescue"
)

// storeImport is ElevatorService.ImportElevators or OrganizationService.ImportOrganizations.
type storeImport[R any] func(ctx context.Context, rows []R, opt liftrescue.ImportOptions) (*liftrescue.ImportResult, error)

// importRows hands the good rows of a file to the store, with the columns the file has, and
// merges the problems of the file with the store's, so that the caller sees one list ordered by
// line.
func importRows[R any](ctx context.Context, store storeImport[R], f file[R], iopt liftrescue.ImportOptions) (*liftrescue.ImportResult, error) {
	rows, bad, encoding := f.rows, f.bad, f.encoding
	iopt.Columns = f.columns
	badRows := countLines(bad)
	total := len(rows) + badRows
	if total == 0 {
		return nil, liftrescue.Errorf(liftrescue.EINVALID, "the file has no data rows")
	}

	if badRows > 0 && !iopt.Partial {
		// Nothing will be written, but the store still knows problems the file alone cannot show
		// (unknown unit codes, a rescue code held by another elevator). Asking for them now saves
		// the user a second round of fixing.
		details := bad
		if len(rows) > 0 {
			res, err := store(ctx, rows, liftrescue.ImportOptions{DryRun: true, Partial: true, Columns: iopt.Columns})
			storeDetails, err := rowProblems(res, err)
			if err != nil {
				return nil, err
			}
			details = mergeDetails(bad, storeDetails)
		}
		return nil, rowsInvalid(details, total)
	}

	res := &liftrescue.ImportResult{DryRun: iopt.DryRun}
	if len(rows) > 0 {
		var err error
		res, err = store(ctx, rows, iopt)
		var e *liftrescue.Error
		if errors.As(err, &e) && e.Code == liftrescue.EINVALID && len(e.Details) > 0 {
			// The store refused the whole import for bad rows of its own.
			return nil, rowsInvalid(mergeDetails(bad, e.Details), total)
		}
		if err != nil {
			return nil, err
		}
	}
	res.Rows = total
	res.Rejected += badRows
	res.Errors = mergeDetails(res.Errors, bad)
	res.Encoding = encoding
	return res, nil
}

// rowProblems returns the row problems of a partial dry run. A store that refuses the rows
// outright for row problems is taken at its word too.
func rowProblems(res *liftrescue.ImportResult, err error) ([]liftrescue.Detail, error) {
	var e *liftrescue.Error
	switch {
	case errors.As(err, &e) && e.Code == liftrescue.EINVALID && len(e.Details) > 0:
		return e.Details, nil
	case err != nil:
		return nil, fmt.Errorf("check the rows against the registry: %w", err)
	}
	return res.Errors, nil
}

// rowsInvalid is the error of an import that wrote nothing because of bad rows.
func rowsInvalid(details []liftrescue.Detail, total int) error {
	return &liftrescue.Error{
		Code:    liftrescue.EINVALID,
		Message: fmt.Sprintf("%d of %d rows are invalid; nothing was imported", countLines(details), total),
		Details: details,
	}
}

// mergeDetails returns a and b in one new list ordered by line, keeping the order of the Details
// of each line.
func mergeDetails(a, b []liftrescue.Detail) []liftrescue.Detail {
	merged := append(make([]liftrescue.Detail, 0, len(a)+len(b)), a...)
	merged = append(merged, b...)
	slices.SortStableFunc(merged, func(x, y liftrescue.Detail) int { return x.Line - y.Line })
	return merged
}

// countLines counts the rows that Details are about.
func countLines(details []liftrescue.Detail) int {
	lines := make(map[int]struct{}, len(details))
	for _, d := range details {
		lines[d.Line] = struct{}{}
	}
	return len(lines)
}
