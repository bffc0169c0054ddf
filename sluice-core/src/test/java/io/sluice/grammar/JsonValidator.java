package io.sluice.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;

import java.util.List;

/** An independent verdict on generated JSON: networknt's json-schema-validator, draft 2020-12, formats asserted. */
public final class JsonValidator {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    private JsonValidator() {
    }

    /** Empty when document is JSON valid against schema, else what is wrong. */
    public static List<String> errors(JsonNode schema, String document) {
        JsonNode doc;
        try {
            doc = JSON.readTree(document);
        } catch (Exception e) {
            return List.of("not JSON: " + e.getMessage());
        }
        if (doc == null || doc.isMissingNode()) return List.of("empty document");
        return REGISTRY.getSchema(schema.toString())
                .validate(doc, ctx -> ctx.executionConfig(c -> c.formatAssertionsEnabled(true)))
                .stream().map(Object::toString).toList();
    }
}
