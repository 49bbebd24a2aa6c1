// Package deps pins dependencies while the packages that use them are written.
package deps

import (
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/pganalyze/pg_query_go/v6"
	_ "github.com/wasilibs/go-pgquery"
)
