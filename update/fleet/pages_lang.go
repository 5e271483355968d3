package fleet

import (
	"net/http"

	"github.com/upkeep-go/upkeep/internal/i18n"
)

// PagesLangCookie keeps the language a person chose with the pages' switch.
const PagesLangCookie = "upkeep_fleet_lang"

// lang returns the language of a page: the switch (?lang=, kept in PagesLangCookie),
// else MasterOptions.Lang, else Accept-Language, else English.
func (p *pages) lang(w http.ResponseWriter, r *http.Request) i18n.Lang {
	w.Header().Add("Vary", "Accept-Language, Cookie")
	var chosen string
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := i18n.Parse(q); ok {
			chosen = string(l)
			http.SetCookie(w, &http.Cookie{Name: PagesLangCookie, Value: chosen, Path: PagesPath, MaxAge: 365 * 24 * 3600,
				SameSite: http.SameSiteLaxMode, HttpOnly: true, Secure: r.TLS != nil})
		}
	} else if c, err := r.Cookie(PagesLangCookie); err == nil {
		chosen = c.Value
	}
	return i18n.Negotiate(r.Header.Get("Accept-Language"), chosen, p.m.opts.Lang)
}

// The pages' words for operation kinds and server states.
var (
	kindLabels  = map[Kind]string{KindAddUpdate: "add update", KindPropagate: "propagate", KindApply: "apply"}
	stateLabels = map[State]string{
		StatePending: "pending", StateDelivered: "delivered", StateStaged: "staged", StateInstalling: "installing",
		StateInstalled: "installed", StateFailed: "failed", StateUnreachable: "unreachable", StateCancelled: "cancelled",
	}
)

// pageMessages are the French of every message of the pages, their Go code and
// pages.js (TestPagesMessagesInBothLanguages checks that each has its French).
var pageMessages = i18n.Catalog{
	"fleet":    "parc",
	"master":   "maître",
	"Language": "Langue",
	"Servers":  "Serveurs",
	"Sign out": "Se déconnecter",
	"The buttons of this page need JavaScript, which this browser does not run here (a restricted mode, or scripts turned off): what you see is the state when the page was loaded.": "Les boutons de cette page ont besoin de JavaScript, que ce navigateur n'exécute pas ici (mode restreint, ou scripts désactivés) : vous voyez l'état au moment du chargement de la page.",
	"Operation {0}":      "Opération {0}",
	"started {0}":        "commencée le {0}",
	"Report":             "Rapport",
	"ended {0}":          "terminée le {0}",
	"running":            "en cours",
	"Server":             "Serveur",
	"State":              "État",
	"Code":               "Code",
	"Reason":             "Raison",
	"Version":            "Version",
	"Name":               "Nom",
	"Role":               "Rôle",
	"Mode":               "Mode",
	"Last contact":       "Dernier contact",
	"Reachable":          "Joignable",
	"Versions":           "Versions",
	"yes":                "oui",
	"no":                 "non",
	"Add update":         "Ajouter une mise à jour",
	"Pack":               "Paquet",
	"Signature":          "Signature",
	"Upload":             "Envoi",
	"Propagate or apply": "Propager ou appliquer",
	"Update":             "Mise à jour",
	"all slaves":         "tous les esclaves",
	"no slave enrolled":  "aucun esclave inscrit",
	"Propagate":          "Propager",
	"Apply":              "Appliquer",
	"Operations":         "Opérations",
	"Started":            "Début",
	"Kind":               "Type",
	"Ended":              "Fin",
	"none yet":           "aucune pour l'instant",
	"sign in":            "connexion",
	"Type the admin token of the master (its admin_token_file).": "Saisissez le jeton d'administration du maître (son admin_token_file).",
	"Admin token":        "Jeton d'administration",
	"Sign in":            "Se connecter",
	"Wrong admin token.": "Jeton d'administration incorrect.",
	"Too many wrong admin tokens: try again in {0} s.": "Trop de jetons incorrects : réessayez dans {0} s.",
	"add update":                "ajout de mise à jour",
	"propagate":                 "propagation",
	"apply":                     "application",
	"pending":                   "en attente",
	"delivered":                 "reçue",
	"staged":                    "prête",
	"installing":                "installation en cours",
	"installed":                 "installée",
	"failed":                    "échec",
	"unreachable":               "injoignable",
	"cancelled":                 "annulée",
	"ended":                     "terminée",
	"just now":                  "à l'instant",
	"now":                       "maintenant",
	"Added {0}: {1} {2} ({3})":  "Ajoutée {0} : {1} {2} ({3})",
	"Started {0} {1}":           "Lancée : {0} {1}",
	"the master did not answer": "le maître n'a pas répondu",
	"upload failed: the master did not answer": "échec de l'envoi : le maître n'a pas répondu",
	"Actions": "Actions",
	"contact": "contact",
	"fresh":   "récent",
	"late":    "en retard",
	"lost":    "perdu",
	"Re-key":  "Renouveler la clé",
	"let the next enrolment under this name replace its secret": "la prochaine inscription sous ce nom remplacera son secret",
	"Convergence":                      "Convergence",
	"Module":                           "Module",
	"Newest":                           "Plus récente",
	"Not on it":                        "Pas encore dessus",
	"every server runs it":             "tous les serveurs l'exécutent",
	"no module reported yet":           "aucun module signalé pour l'instant",
	"master (this server, first)":      "maître (ce serveur, en premier)",
	"force (slaves before the master)": "forcer (les esclaves avant le maître)",
	"the master is updated first: without this, an apply of a version newer than the master's own is refused": "le maître est mis à jour en premier : sans cette case, appliquer une version plus récente que celle du maître est refusé",
	"The next enrolment of {0} replaces its secret.":                                                          "La prochaine inscription de {0} remplacera son secret.",
}
