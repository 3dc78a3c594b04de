// Package mailer delivers the core's emails: LogMailer prints them for local
// development, SMTPMailer sends them through an SMTP server.
package mailer
