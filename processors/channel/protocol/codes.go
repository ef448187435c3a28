package protocol

// Code is the stable reason of an error frame: clients branch on it and dashboards count by
// it; the frame's reason text is for people and may change.
type Code string

// The gateway's codes. Entry ticket refusals use the ticket package's codes (TICKET_*).
const (
	CodeBadFrame       Code = "BAD_FRAME"             // not one JSON object of the protocol, unknown op or key, too big
	CodeDuplicateKey   Code = "DUPLICATE_KEY"         // a key given twice in one object, case variants included
	CodeNotEntered     Code = "NOT_ENTERED"           // an action or change_channel before enter
	CodeAlreadyEntered Code = "ALREADY_ENTERED"       // a second enter on one connection
	CodeStarting       Code = "CHANNEL_STARTING"      // the instance does not consume its topics yet; retry
	CodeFull           Code = "CHANNEL_FULL"          // the channel holds its capacity of sessions
	CodeInUse          Code = "ALREADY_CONNECTED"     // the session or character is connected already
	CodeNotAllowed     Code = "COMMAND_NOT_ALLOWED"   // a server-only command type (client policy)
	CodeBadAction      Code = "BAD_ACTION"            // unknown topic or type, a body or field that does not fit
	CodeNotActive      Code = "SESSION_NOT_ACTIVE"    // the session is pending, moving or closed
	CodeNotLoggedIn    Code = "ACCOUNT_NOT_LOGGED_IN" // the registry says the account logged out; the session closes
	CodeBadChange      Code = "BAD_CHANNEL_CHANGE"    // an unknown channel, the current one, or no target
	CodeRateLimited    Code = "RATE_LIMITED"          // over the frame rate; sustained, the connection closes
	CodeEnterTimeout   Code = "ENTER_TIMEOUT"         // no valid enter in time; the connection closes
	CodeIdleTimeout    Code = "IDLE_TIMEOUT"          // no answer to pings; the connection closes
	CodeUnavailable    Code = "UNAVAILABLE"           // a dependency (registry view, Kafka) failed; retry
	CodeInternal       Code = "INTERNAL"              // a bug; logged
	CodeShuttingDown   Code = "SHUTTING_DOWN"         // the instance is stopping
	CodeFrameTooLarge  Code = "FRAME_TOO_LARGE"       // a frame over the size limit
	CodeAccountRefused Code = "ACCOUNT_REFUSED"       // the account service refused the entry (its code in the reason)
)

// Codes lists the gateway's own codes, for metrics that start every label at 0.
func Codes() []Code {
	return []Code{CodeBadFrame, CodeDuplicateKey, CodeNotEntered, CodeAlreadyEntered, CodeStarting,
		CodeFull, CodeInUse, CodeNotAllowed, CodeBadAction, CodeNotActive, CodeNotLoggedIn, CodeBadChange,
		CodeRateLimited, CodeEnterTimeout, CodeIdleTimeout, CodeUnavailable, CodeInternal, CodeShuttingDown,
		CodeFrameTooLarge, CodeAccountRefused}
}

// Refusal is an error a client is answered with: a code and a reason.
type Refusal struct {
	Code   Code
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// Refuse builds a refusal.
func Refuse(code Code, reason string) *Refusal { return &Refusal{Code: code, Reason: reason} }
