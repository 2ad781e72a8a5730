// Package csvimport reads and writes the CSV registries of elevators and organisations: the files
// that regulators, maintenance companies and property managers keep in Excel and hand over in
// bulk. The reader accepts what those files really look like (GB18030 from Excel on Chinese
// Windows, Chinese headers and values, GCJ-02 coordinates copied from web maps) and reports every
// bad cell by line and column, so that a file can be fixed in one pass.
//
// It imports the root package and geo only.
package csvimport
