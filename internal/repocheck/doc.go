// Package repocheck holds checks of the repository as a whole, run by go
// test: things no single package can see, such as a citation of a file that
// a clone of the repository does not have.
package repocheck
