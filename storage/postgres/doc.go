// Package postgres implements every feature's Store interface on PostgreSQL
// with pgx, one file per feature. The tables are created by the migrations
// of package storage; not found is storage.ErrNotFound, a duplicate
// storage.ErrExists, both wrapped.
package postgres
