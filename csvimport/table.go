package csvimport

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/liftrescue/liftrescue"
)

// MaxFileSize is the largest file the reader accepts. The registry of a prefecture-level city,
// some 100,000 elevators, is about 25 MB; the limit leaves room for that without letting a stray
// upload exhaust memory, since the file is held in memory while it is read.
const MaxFileSize = 64 << 20

// The encodings a file can be in, as ReadElevators reports them.
const (
	encodingUTF8    = "UTF-8"
	encodingGB18030 = "GB18030"
)

var (
	utf8BOM    = []byte("\xef\xbb\xbf")
	gb18030BOM = []byte("\x84\x31\x95\x33")
	zipMagic   = []byte("PK\x03\x04")
)

// MaxBadRows is how many bad rows a file may have before the reader gives up on it. So many
// means a systematic mistake (the wrong file, a column of Excel numbers) that the first problems
// show; and a Detail costs far more memory than the bytes of a short bad row, so without a limit
// a file of tiny bad rows would take gigabytes to describe.
const MaxBadRows = 10_000

// minRowBytes is the fewest bytes a row is assumed to have when sizing the results.
const minRowBytes = 100

// valueLimit is how many characters of a bad cell a Detail quotes.
const valueLimit = 60

// column is one column of a registry file.
type column struct {
	name     string   // the English header, and the Field of every Detail about the column
	aliases  []string // other headers that mean the column, mostly the Chinese ones of the registries
	required bool
	// stores is the column of liftrescue.ImportOptions.Columns that a file with this column
	// carries, when it is not name: contact_name and contact_phone carry "contacts".
	stores string
}

// storeColumn is what ImportOptions.Columns calls the column.
func (c column) storeColumn() string {
	if c.stores != "" {
		return c.stores
	}
	return c.name
}

// schema describes one kind of file: its columns in the order the writer puts them.
type schema struct {
	columns []column
	// unique lists the columns whose value may appear on one row of a file only.
	unique []int
	// byHeader finds a column by its normalised header or alias.
	byHeader map[string]int
	// byField finds the column that a Detail from the entity's Validate is about.
	byField map[string]int
}

// newSchema indexes columns. fields maps those Validate field names that are not column names.
func newSchema(columns []column, fields map[string]int, unique ...int) *schema {
	s := &schema{columns: columns, unique: unique, byHeader: map[string]int{}, byField: map[string]int{}}
	for i, c := range columns {
		s.byField[c.name] = i
		s.byHeader[normalizeHeader(c.name)] = i
		for _, alias := range c.aliases {
			s.byHeader[normalizeHeader(alias)] = i
		}
	}
	for field, i := range fields {
		s.byField[field] = i
	}
	return s
}

// normalizeHeader lets "Rescue Code", " rescue_code " and "*救援识别码" (import templates mark
// required columns with a star) all name the same column.
func normalizeHeader(h string) string {
	return normalizeWord(strings.TrimSpace(strings.Trim(strings.TrimSpace(h), "*")))
}

var wordSeparators = strings.NewReplacer(" ", "_", "-", "_")

// normalizeWord lets "Moving Walk", "moving-walk" and "MOVING_WALK" name the same thing.
func normalizeWord(s string) string { return wordSeparators.Replace(strings.ToLower(s)) }

// table reads the data rows of one file whose header matched a schema.
type table struct {
	schema   *schema
	csv      *csv.Reader
	encoding string
	// cellOf[column] is the index of the column's cell in a record, or -1 when the file lacks it.
	cellOf []int
	// named[i] reports whether header cell i names a column; cells under a blank header are
	// ignored but must stay empty.
	named []bool
	// minCells is how many cells a record needs to reach every column the header names.
	minCells int
	// rowsHint is about how many rows the file has, to size the results.
	rowsHint int
}

// openTable reads the file, decides its encoding and delimiter, and matches its header to s.
func openTable(r io.Reader, s *schema) (*table, error) {
	text, firstLine, rowsHint, encoding, err := openText(r)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(text)
	// Tab-separated text is what a copy out of a spreadsheet pastes as.
	if bytes.Count(firstLine, []byte{'\t'}) > bytes.Count(firstLine, []byte{','}) {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = -1 // the row loop reports a wrong cell count with the row's line
	// Hand-edited files carry inch marks and quotes inside unquoted cells (7"号楼); take them
	// literally. A quote that really breaks the structure still shows up as a wrong cell count.
	// With this and FieldsPerRecord < 0, Read returns no ParseError, only errors of the reader.
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	t := &table{schema: s, csv: cr, encoding: encoding, rowsHint: rowsHint}
	header, err := t.read()
	if err == io.EOF {
		return nil, liftrescue.Errorf(liftrescue.EINVALID, "the file is empty; its first row must name the columns: %s", columnList(s, false))
	}
	if err != nil {
		return nil, err
	}
	if err := t.matchHeader(header); err != nil {
		return nil, err
	}
	return t, nil
}

// openText reads the file and returns its text as UTF-8, its first line as it was, about how many
// rows it has, and the encoding it was in. GB18030 is decoded as the CSV reader consumes it, so
// that the file is held in memory once.
func openText(r io.Reader) (text io.Reader, firstLine []byte, rowsHint int, encoding string, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, nil, 0, "", fmt.Errorf("read the file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, 0, "", liftrescue.Errorf(liftrescue.ETOOLARGE, "the file is larger than %d MB", MaxFileSize>>20)
	}
	if bytes.HasPrefix(data, zipMagic) {
		return nil, nil, 0, "", liftrescue.Errorf(liftrescue.EBADREQUEST, "the file is an Excel workbook or another archive, not CSV text; save it as CSV")
	}
	// No text in either encoding has a NUL (GB18030 uses no byte below 0x30 inside a character),
	// so one means binary, or UTF-16 from Excel's "Unicode text".
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, nil, 0, "", errNotText()
	}
	encoding = encodingUTF8
	switch {
	case bytes.HasPrefix(data, utf8BOM):
		data = data[len(utf8BOM):]
	case bytes.HasPrefix(data, gb18030BOM):
		data = data[len(gb18030BOM):]
		encoding = encodingGB18030
	}
	// Text that is valid UTF-8 is taken as UTF-8: GBK Chinese passes for UTF-8 only in strings of
	// a few characters, never in a whole registry.
	if encoding == encodingUTF8 && !utf8.Valid(data) {
		encoding = encodingGB18030
	}
	// Excel for Mac saves "CSV (Macintosh)" with bare CR line ends, which encoding/csv does not
	// split on. The bytes are ours, so fix them in place.
	if bytes.IndexByte(data, '\n') < 0 {
		for i, b := range data {
			if b == '\r' {
				data[i] = '\n'
			}
		}
	}
	firstLine, _, _ = bytes.Cut(data, []byte{'\n'})
	// A real row is 100 to 400 bytes. Counting lines alone would let a file of blank lines reserve
	// memory for millions of rows; with the bytes too, the hint never reserves more than a file of
	// MaxFileSize of real rows needs anyway.
	rowsHint = min(bytes.Count(data, []byte{'\n'}), len(data)/minRowBytes)
	if encoding == encodingGB18030 {
		return transform.NewReader(bytes.NewReader(data), simplifiedchinese.GB18030.NewDecoder()), firstLine, rowsHint, encoding, nil
	}
	return bytes.NewReader(data), firstLine, rowsHint, encoding, nil
}

func errNotText() error {
	return liftrescue.Errorf(liftrescue.EBADREQUEST, "file is not UTF-8 or GB18030 text")
}

// read returns the next record. The GB18030 decoder writes U+FFFD for bytes that are not
// GB18030, so in a file taken for GB18030 one means it was neither encoding.
func (t *table) read() ([]string, error) {
	rec, err := t.csv.Read()
	if err == nil && t.encoding == encodingGB18030 {
		for _, cell := range rec {
			if strings.ContainsRune(cell, utf8.RuneError) {
				return nil, errNotText()
			}
		}
	}
	return rec, err
}

// matchHeader finds each column of the schema in the header. Unknown and duplicate columns are
// refused rather than skipped: either means the file is not what the importer thinks it is, and
// guessing would put values in the wrong fields.
func (t *table) matchHeader(header []string) error {
	s := t.schema
	t.cellOf = make([]int, len(s.columns))
	for i := range t.cellOf {
		t.cellOf[i] = -1
	}
	t.named = make([]bool, len(header))
	var bad []liftrescue.Detail
	for i, h := range header {
		line, _ := t.csv.FieldPos(i)
		h = strings.TrimSpace(h)
		if h == "" {
			continue // spreadsheets leave blank header cells after the last column
		}
		col, ok := s.byHeader[normalizeHeader(h)]
		switch {
		case !ok:
			bad = append(bad, liftrescue.Detail{Line: line, Field: shorten(h), Reason: "unknown column"})
		case t.cellOf[col] >= 0:
			bad = append(bad, liftrescue.Detail{Line: line, Field: shorten(h),
				Reason: fmt.Sprintf("is column %s again, already given in column %d", s.columns[col].name, t.cellOf[col]+1)})
		default:
			t.cellOf[col] = i
			t.named[i] = true
			t.minCells = max(t.minCells, i+1)
		}
	}
	headerLine, _ := t.csv.FieldPos(0)
	for col, c := range s.columns {
		if c.required && t.cellOf[col] < 0 {
			reason := "required column is missing"
			if len(c.aliases) > 0 {
				reason += " (also accepted as " + strings.Join(c.aliases, ", ") + ")"
			}
			bad = append(bad, liftrescue.Detail{Line: headerLine, Field: c.name, Reason: reason})
		}
	}
	if len(bad) > 0 {
		return &liftrescue.Error{
			Code: liftrescue.EINVALID,
			Message: fmt.Sprintf("the header has %d bad columns; expected columns: %s (required: %s)",
				len(bad), columnList(s, false), columnList(s, true)),
			Details: bad,
		}
	}
	return nil
}

// storeColumns names the columns the file has as ImportOptions.Columns does, in the order of the
// schema, so that a store updates only those on the records it already holds.
func (t *table) storeColumns() []string {
	var names []string
	for col, c := range t.schema.columns {
		if name := c.storeColumn(); t.cellOf[col] >= 0 && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// columnList names the columns of s, or only the required ones.
func columnList(s *schema, requiredOnly bool) string {
	var names []string
	for _, c := range s.columns {
		if c.required || !requiredOnly {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ", ")
}

// row is one data record and the problems found in it so far. One row is reused for the whole
// file.
type row struct {
	table *table
	line  int
	cells []string
	// values[column] is the text of the column's cell as the row's values are read: trimmed,
	// on one line, unescaped.
	values  []string
	details []liftrescue.Detail
	// misaligned is set when the cells cannot be matched to the columns; nothing else is checked.
	misaligned bool
}

// next reads the next data row into r, skipping rows whose cells are all blank (spreadsheets
// leave them below the data). It returns io.EOF after the last row.
func (t *table) next(r *row) error {
	for {
		rec, err := t.read()
		if err != nil {
			return err
		}
		if isBlank(rec) {
			continue
		}
		// FieldPos counts physical lines, so a quoted cell with line breaks moves the rows below
		// it as an editor shows them.
		line, _ := t.csv.FieldPos(0)
		*r = row{table: t, line: line, cells: rec, values: r.values[:0], details: r.details[:0]}
		r.checkShape()
		for col := range t.schema.columns {
			r.values = append(r.values, cellText(rec, t.cellOf[col]))
		}
		return nil
	}
}

func isBlank(rec []string) bool {
	for _, cell := range rec {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

// checkShape reports a row that is too short to reach every column, or that has values in cells
// that belong to no column.
func (r *row) checkShape() {
	width := len(r.table.named)
	if len(r.cells) < r.table.minCells {
		r.misaligned = true
		r.details = append(r.details, liftrescue.Detail{Line: r.line,
			Reason: fmt.Sprintf("the row has %d cells but the header has %d", len(r.cells), width)})
		return
	}
	for i, cell := range r.cells {
		switch {
		case strings.TrimSpace(cell) == "" || i < width && r.table.named[i]:
		case i >= width:
			// Most often an unquoted comma inside an address, which shifts every cell after it.
			r.misaligned = true
			r.details = append(r.details, liftrescue.Detail{Line: r.line, Value: shorten(cell),
				Reason: fmt.Sprintf("the row has %d cells but the header has %d (a comma in a cell that is not quoted?)", len(r.cells), width)})
			return
		default:
			r.details = append(r.details, liftrescue.Detail{Line: r.line, Value: shorten(cell),
				Reason: fmt.Sprintf("cell %d has a value but its column has no header", i+1)})
		}
	}
}

// cell returns the text of the row's cell in column col, "" when the file lacks the column.
func (r *row) cell(col int) string { return r.values[col] }

// cellText returns the text of rec[i] as the row's values are read, "" when there is no such cell.
func cellText(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	v := strings.TrimSpace(rec[i])
	// A line break typed into a cell (Alt+Enter in Excel) or a pasted tab means a space in an
	// address or a name; the registry keeps single-line text.
	if strings.IndexFunc(v, isLineBreakOrTab) >= 0 {
		v = strings.Join(strings.FieldsFunc(v, isLineBreakOrTab), " ")
	}
	return unescapeFormula(v)
}

func isLineBreakOrTab(c rune) bool { return c == '\r' || c == '\n' || c == '\t' }

// fail records a problem with the cell in column col.
func (r *row) fail(col int, reason string) {
	r.details = append(r.details, liftrescue.Detail{
		Line:   r.line,
		Field:  r.table.schema.columns[col].name,
		Value:  shorten(r.cell(col)),
		Reason: reason,
	})
}

// failed reports whether a problem with column col is recorded already.
func (r *row) failed(col int) bool {
	name := r.table.schema.columns[col].name
	for _, d := range r.details {
		if d.Field == name {
			return true
		}
	}
	return false
}

// requireCells records every required column whose cell is empty.
func (r *row) requireCells() {
	for col, c := range r.table.schema.columns {
		if c.required && r.cell(col) == "" {
			r.fail(col, "is required")
		}
	}
}

// addValidation turns the Details of an entity's Validate into problems of the row's cells,
// skipping columns that already failed to parse: a bad number is reported once, not again as the
// zero it was read as.
func (r *row) addValidation(err error) {
	if err == nil {
		return
	}
	details := liftrescue.ErrorDetails(err)
	if len(details) == 0 {
		r.details = append(r.details, liftrescue.Detail{Line: r.line, Reason: err.Error()})
	}
	for _, d := range details {
		col, ok := r.table.schema.byField[d.Field]
		switch {
		case !ok:
			r.details = append(r.details, liftrescue.Detail{Line: r.line, Field: d.Field, Reason: d.Reason})
		case !r.failed(col):
			r.fail(col, d.Reason)
		}
	}
}

// sortDetails puts the problems of the row in the order of the columns, as a person reads it;
// problems of the whole row come first.
func (r *row) sortDetails() {
	position := func(d liftrescue.Detail) int {
		if d.Field == "" {
			return -1
		}
		if col, ok := r.table.schema.byField[d.Field]; ok {
			return col
		}
		return len(r.table.schema.columns)
	}
	slices.SortStableFunc(r.details, func(a, b liftrescue.Detail) int { return position(a) - position(b) })
}

// checkUnique records a row whose value in a unique column was seen on an earlier row; seen[i]
// maps the values of schema.unique[i] to their first line.
func (r *row) checkUnique(seen []map[string]int) {
	for i, col := range r.table.schema.unique {
		v := r.cell(col)
		if v == "" {
			continue
		}
		if first, ok := seen[i][v]; ok {
			r.fail(col, "is also on line "+strconv.Itoa(first))
			continue
		}
		seen[i][v] = r.line
	}
}

// cellValue parses the cell of column col. An empty cell is the zero value; a cell that does not
// parse is recorded with the error as the reason, and is the zero value too.
func cellValue[T any](r *row, col int, parse func(string) (T, error)) T {
	var zero T
	s := r.cell(col)
	if s == "" {
		return zero
	}
	v, err := parse(s)
	if err != nil {
		r.fail(col, err.Error())
		return zero
	}
	return v
}

// readRows reads every data row of a file with parse, which turns a row into a value and records
// its problems on the row. Rows with problems are left out of rows and described in bad.
func readRows[T any](r io.Reader, opt Options, s *schema, parse func(*row, settings) T) (rows []T, bad []liftrescue.Detail, encoding string, err error) {
	f, err := readFile(r, opt, s, parse)
	return f.rows, f.bad, f.encoding, err
}

// file is what readFile makes of a file.
type file[T any] struct {
	rows     []T
	bad      []liftrescue.Detail
	encoding string
	// columns names the columns of the header as liftrescue.ImportOptions.Columns does.
	columns []string
}

// readFile is readRows that also says which columns the file has.
func readFile[T any](r io.Reader, opt Options, s *schema, parse func(*row, settings) T) (f file[T], err error) {
	set, err := opt.settings()
	if err != nil {
		return f, err
	}
	t, err := openTable(r, s)
	if err != nil {
		return f, err
	}
	f.encoding, f.columns = t.encoding, t.storeColumns()
	f.rows, f.bad, err = readTable(t, set, parse)
	return f, err
}

// readTable reads the data rows of t, as readRows describes.
func readTable[T any](t *table, set settings, parse func(*row, settings) T) (rows []T, bad []liftrescue.Detail, err error) {
	s := t.schema
	rows = make([]T, 0, t.rowsHint)
	seen := make([]map[string]int, len(s.unique))
	for i := range seen {
		seen[i] = make(map[string]int, t.rowsHint)
	}
	rw := &row{}
	badRows := 0
	for {
		err := t.next(rw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		var v T
		if !rw.misaligned {
			rw.requireCells()
			v = parse(rw, set)
			rw.checkUnique(seen)
		}
		if len(rw.details) > 0 {
			if badRows++; badRows > MaxBadRows {
				return nil, nil, &liftrescue.Error{
					Code:    liftrescue.EINVALID,
					Message: fmt.Sprintf("more than %d rows are invalid, so the file was not read to the end; the first %[1]d are listed", MaxBadRows),
					Details: bad,
				}
			}
			rw.sortDetails()
			bad = append(bad, rw.details...)
			continue
		}
		rows = append(rows, v)
	}
	return rows, bad, nil
}

// shorten cuts s to valueLimit characters so that a Detail quotes a cell, not a whole file
// swallowed by a stray quote.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= valueLimit {
		return s
	}
	n := 0
	for i := range s {
		if n == valueLimit-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// writeTable writes the header of s and one record per item. The file starts with a UTF-8 byte
// order mark because Excel on Chinese Windows otherwise opens it as GBK and shows every Chinese
// character garbled; the reader strips it.
func writeTable[T any](w io.Writer, s *schema, items []T, record func(*T, []string)) error {
	if _, err := w.Write(utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	rec := make([]string, len(s.columns))
	for i, c := range s.columns {
		rec[i] = c.name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for i := range items {
		clear(rec)
		record(&items[i], rec)
		for j := range rec {
			rec[j] = escapeFormula(rec[j])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// A cell that starts with one of these is a formula to a spreadsheet, and a formula in an
// exported address can run commands on the dispatcher's computer (CSV injection).
const formulaStarts = "=+-@"

// escapeFormula prefixes an apostrophe to text that a spreadsheet would take for a formula, and
// to text that already looks escaped, so that unescapeFormula gives back exactly what was written.
// Numbers (a negative longitude) are left alone.
func escapeFormula(s string) string {
	rest := strings.TrimLeft(s, "'")
	if rest == "" || !strings.ContainsRune(formulaStarts, rune(rest[0])) {
		return s
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	return "'" + s
}

// unescapeFormula undoes escapeFormula.
func unescapeFormula(s string) string {
	rest := strings.TrimLeft(s, "'")
	if len(rest) < len(s) && rest != "" && strings.ContainsRune(formulaStarts, rune(rest[0])) {
		return s[1:]
	}
	return s
}
