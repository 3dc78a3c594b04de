// Command openapijson writes the JSON form of the API document next to its
// YAML source, so that the service serves both without carrying a YAML parser
// and an OpenAPI library in its binary. go generate runs it in
// adapters/httpapi; a test there fails when the two forms drift apart.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	if err := convert("openapi.yaml", "openapi.json"); err != nil {
		fmt.Fprintln(os.Stderr, "openapijson:", err)
		os.Exit(1)
	}
}

func convert(src, dst string) error {
	yamlDoc, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	doc, err := openapi3.NewLoader().LoadFromData(yamlDoc)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	compact, err := doc.MarshalJSON()
	if err != nil {
		return err
	}
	// Indented, so that a change to the document reads as a small diff.
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	return os.WriteFile(dst, out.Bytes(), 0o644)
}
