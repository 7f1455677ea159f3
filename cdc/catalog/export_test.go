package catalog

// The two readers of ForeignKeys, for TestForeignKeys.
var (
	SchemaForeignKeys = schemaForeignKeys
	InnodbForeignKeys = innodbForeignKeys
)
