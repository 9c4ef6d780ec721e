package controlplane

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"

	// The SQLite driver kine itself uses, registered as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

// sqliteHeader starts every SQLite 3 database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// checkSQLite fails fast on a database file that is not SQLite or whose schema cannot
// be read. kine retries a broken database for minutes before it gives up; the user
// should hear at once which file is wrong. The file is opened read-only and never
// changed. A missing or empty file is fine: kine creates it.
func checkSQLite(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return unwrapPath(err)
	}
	header := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, header)
	_ = f.Close()
	if n == 0 && (errors.Is(err, io.EOF)) {
		return nil
	}
	if err != nil || !bytes.Equal(header, sqliteHeader) {
		return errors.New("file is not a database (no SQLite header); restore it from a backup or move it away to start empty")
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return fmt.Errorf("reading the database schema: %w", err)
	}
	return nil
}
