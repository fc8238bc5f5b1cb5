package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Message IDs from the DMTF Base registry used in error bodies.
const (
	baseRegistry                      = "Base.1.15."
	msgGeneralError                   = baseRegistry + "GeneralError"
	msgInternalError                  = baseRegistry + "InternalError"
	msgServiceTemporarilyUnavailable  = baseRegistry + "ServiceTemporarilyUnavailable"
	msgResourceMissingAtURI           = baseRegistry + "ResourceMissingAtURI"
	msgActionNotSupported             = baseRegistry + "ActionNotSupported"
	msgNoValidSession                 = baseRegistry + "NoValidSession"
	msgSessionLimitExceeded           = baseRegistry + "SessionLimitExceeded"
	msgMalformedJSON                  = baseRegistry + "MalformedJSON"
	msgPropertyMissing                = baseRegistry + "PropertyMissing"
	msgQueryParameterValueFormatError = baseRegistry + "QueryParameterValueFormatError"
	msgQueryNotSupported              = baseRegistry + "QueryNotSupported"
	msgResourceAtURIUnauthorized      = baseRegistry + "ResourceAtUriUnauthorized"
)

// writeError writes a Redfish error response: the extended error object
// with one message.
func writeError(w http.ResponseWriter, status int, messageID, message string) {
	severity := "Critical"
	if status < 500 {
		severity = "Warning"
	}
	body := map[string]any{
		"error": map[string]any{
			"code":    messageID,
			"message": message,
			"@Message.ExtendedInfo": []any{map[string]any{
				"@odata.type": "#Message.v1_1_1.Message",
				"MessageId":   messageID,
				"Message":     message,
				"Severity":    severity,
				"Resolution":  resolutionFor(messageID),
			}},
		},
	}
	data, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func resolutionFor(messageID string) string {
	switch messageID {
	case msgSessionLimitExceeded:
		return "Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions, if supported."
	case msgNoValidSession, msgResourceAtURIUnauthorized:
		return "Establish a session before attempting any operations."
	case msgResourceMissingAtURI:
		return "Place a valid resource at the URI or correct the URI and resubmit the request."
	case msgServiceTemporarilyUnavailable:
		return "Wait for the indicated retry duration and retry the operation."
	}
	return "None."
}
