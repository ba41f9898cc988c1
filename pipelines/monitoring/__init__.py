"""Monitoring production: the drift monitor job's request and its launcher, the alarms over its
metrics (CloudWatch's semantics), and the local stand-in for CloudWatch's metric store. The
launcher (`launch`) is standard library only: the monitor launcher function's bundle carries this
package, and nothing here is imported by importing the package."""
