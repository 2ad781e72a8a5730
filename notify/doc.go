// Package notify is the delivery side of the durable outbox: it sends the notifications that the
// dispatch engine writes into the store in the same transaction as the incident change that
// causes them.
//
// An Outbox reads due notifications from the store (a Queue) and hands each to the Sender of its
// channel: an HTTP SMS gateway (SMSGateway), signed webhooks to external systems such as the city
// hotline (Webhooks), or the service log (LogSender). Every channel has its own pool of workers,
// so that a slow or dead receiver holds up neither dispatch nor the other channels.
//
// Delivery is at least once. A notification stays pending in the store until RecordDelivery
// writes the outcome of an attempt; if the process dies in between, it is sent again after the
// restart. Every request carries the notification's id (Idempotency-Key, X-Liftrescue-Delivery)
// so that a receiver can drop the repeats. Within one Outbox a notification is never sent twice
// at once. A failed attempt is tried again after an exponential backoff with jitter, or later
// when the receiver asks for that with Retry-After, until MaxAttempts; a failure that retrying
// cannot fix (a 4xx answer, an unknown webhook target, a channel without a sender) gives up at once.
//
// It imports only the root package and the standard library.
package notify
