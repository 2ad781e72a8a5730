package sqlite

// ParseTime exposes parseTime to the tests.
var ParseTime = parseTime
