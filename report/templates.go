package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"os"
	"strings"
)

// The pages' templates, stylesheet and sorting script; style.css and
// sort.js are inlined into each page, so that a page is one file.
//
//go:embed templates/*.html templates/style.css templates/sort.js
var files embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"css":  func() template.CSS { return template.CSS(mustRead("templates/style.css")) },
	"js":   func() template.JS { return template.JS(mustRead("templates/sort.js")) },
	"join": func(vs []string) string { return strings.Join(vs, ", ") },
}).ParseFS(files, "templates/*.html"))

func mustRead(name string) string {
	data, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// writePage renders the template name with data to path.
func writePage(path, name string, data any) error {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("report: rendering %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
