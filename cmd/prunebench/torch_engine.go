//go:build torch

package main

import _ "github.com/prunebench/prunebench/nn/torch" // registers backend "torch"
