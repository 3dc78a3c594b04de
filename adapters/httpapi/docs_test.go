package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIJSONIsTheDocument fails when openapi.yaml changed and
// openapi.json was not regenerated from it.
func TestOpenAPIJSONIsTheDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := doc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(fromYAML, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openAPIJSON, &got); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("openapi.json differs from openapi.yaml; run go generate ./adapters/httpapi")
	}
}
