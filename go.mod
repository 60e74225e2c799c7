module github.com/sqc-project/sqc

go 1.26
