package portal

import (
	"net/http"

	"github.com/upkeep-go/upkeep/internal/i18n"
	"github.com/upkeep-go/upkeep/update/agent"
)

// LangCookie keeps the language a person chose with the switch on the page.
const LangCookie = "upkeep_lang"

// lang returns the language of the page: the switch (?lang=, kept in LangCookie),
// else the configuration's lang, else Accept-Language, else English.
func (p *Portal) lang(w http.ResponseWriter, r *http.Request) i18n.Lang {
	w.Header().Add("Vary", "Accept-Language, Cookie")
	var chosen, configured string
	if q := r.URL.Query().Get("lang"); q != "" {
		if l, ok := i18n.Parse(q); ok {
			chosen = string(l)
			http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: chosen, Path: "/", MaxAge: 365 * 24 * 3600,
				SameSite: http.SameSiteLaxMode, HttpOnly: true, Secure: r.TLS != nil})
		}
	} else if c, err := r.Cookie(LangCookie); err == nil {
		chosen = c.Value
	}
	if sb, ok := p.b.(SettingsBackend); ok && chosen == "" {
		if st, err := sb.Settings(r.Context()); err == nil {
			configured = st.Lang
		}
	}
	return i18n.Negotiate(r.Header.Get("Accept-Language"), chosen, configured)
}

// tr writes msg in l.
func tr(l i18n.Lang, msg string, args ...any) string { return messages.T(l, msg, args...) }

// The page's words for operations.
var (
	kindLabels = map[agent.OpKind]string{
		agent.OpCheck: "check", agent.OpInstall: "install", agent.OpRollback: "rollback", agent.OpScript: "script",
		agent.OpHold: "hold", agent.OpRelease: "release", agent.OpMaintenanceOff: "maintenance off",
	}
	holdLabels   = map[agent.HoldReason]string{agent.HoldRollback: "rollback", agent.HoldOperator: "operator"}
	resultLabels = map[agent.OpResult]string{
		agent.ResultRunning: "running", agent.ResultSucceeded: "succeeded", agent.ResultFailed: "failed",
	}
)

// messages are the French of every message of the page, its Go code and portal.js
// (TestMessagesInBothLanguages checks that each has its French, and no more).
var messages = i18n.Catalog{
	"updates":            "mises à jour",
	"Language":           "Langue",
	"connecting…":        "connexion…",
	"live":               "en direct",
	"reconnecting…":      "reconnexion…",
	"Check now":          "Vérifier maintenant",
	"Sign out":           "Se déconnecter",
	"Modules":            "Modules",
	"Installed":          "Installée",
	"Latest":             "Dernière",
	"Pack":               "Paquet",
	"Next check":         "Prochaine vérification",
	"Automatic installs": "Installations automatiques",
	"The buttons of this page need JavaScript, which this browser does not run here (a restricted mode, or scripts turned off): what you see is the state when the page was loaded.":  "Les boutons de cette page ont besoin de JavaScript, que ce navigateur n'exécute pas ici (mode restreint, ou scripts désactivés) : vous voyez l'état au moment du chargement de la page.",
	"The maintenance flag in this module's folder was not placed by upkeep (a person, an older tool): the site stays in maintenance and installs are refused until it is taken down.": "Le fichier de maintenance présent dans le dossier de ce module n'a pas été posé par upkeep (une personne, un ancien outil) : le site reste en maintenance et les installations sont refusées tant qu'il n'est pas retiré.",
	"On hold": "En attente",
	"since":   "depuis le",
	"no automatic install until a person installs or releases it.": "aucune installation automatique tant qu'une personne ne l'installe pas ou ne lève pas l'attente.",
	"Database": "Base de données",
	"Customised: nothing runs automatically. Read each script, then run it or mark it applied after running it by hand.": "Personnalisée : rien ne s'exécute automatiquement. Lisez chaque script, puis exécutez-le, ou marquez-le appliqué après l'avoir exécuté vous-même.",
	"Drift from the standard schema:":        "Écarts avec le schéma standard :",
	"added":                                  "ajouté",
	"removed":                                "supprimé",
	"changed":                                "modifié",
	"Pending scripts:":                       "Scripts en attente :",
	"touches {0}":                            "touche {0}",
	"Run next":                               "Exécuter le suivant",
	"Mark applied":                           "Marquer appliqué",
	"Roll back to {0}":                       "Restaurer la version précédente ({0})",
	"Take the maintenance flag down":         "Retirer le fichier de maintenance",
	"Hold automatic installs":                "Suspendre les installations automatiques",
	"Release the hold":                       "Lever la suspension",
	"Release notes":                          "Notes de version",
	"Diagnostics: why is no version found?":  "Diagnostic : pourquoi aucune version n'est trouvée ?",
	"Last check":                             "Dernière vérification",
	"never":                                  "jamais",
	"Result":                                 "Résultat",
	"Last error":                             "Dernière erreur",
	"none":                                   "aucune",
	"Source":                                 "Serveur",
	"Manifest serial":                        "Numéro du manifeste",
	"Manifest expires":                       "Expiration du manifeste",
	"Folder rights":                          "Droits du dossier",
	"no problem found":                       "aucun problème trouvé",
	"Kept backups":                           "Sauvegardes conservées",
	"No module is configured.":               "Aucun module n'est configuré.",
	"Settings":                               "Réglages",
	"Off: only download":                     "Désactivées : téléchargement seul",
	"Always":                                 "Toujours",
	"In a window":                            "Dans une plage horaire",
	"Days":                                   "Jours",
	"Mon":                                    "Lun",
	"Tue":                                    "Mar",
	"Wed":                                    "Mer",
	"Thu":                                    "Jeu",
	"Fri":                                    "Ven",
	"Sat":                                    "Sam",
	"Sun":                                    "Dim",
	"mon":                                    "lun",
	"tue":                                    "mar",
	"wed":                                    "mer",
	"thu":                                    "jeu",
	"fri":                                    "ven",
	"sat":                                    "sam",
	"sun":                                    "dim",
	"From":                                   "De",
	"To":                                     "À",
	"Check interval":                         "Intervalle de vérification",
	"A Go duration (90m, 36h) or days (7d).": "Une durée (90m, 36h) ou des jours (7d).",
	"Update server":                          "Serveur de mises à jour",
	"The browser's":                          "Celle du navigateur",
	"Saved: in force now.":                   "Enregistré : en vigueur dès maintenant.",
	"Save settings":                          "Enregistrer les réglages",
	"Operations":                             "Opérations",
	"Started":                                "Début",
	"Module":                                 "Module",
	"Operation":                              "Opération",
	"Versions":                               "Versions",
	"Error":                                  "Erreur",
	"all":                                    "tous",
	"No operation yet.":                      "Aucune opération pour l'instant.",
	"Up to date":                             "À jour",
	"Update available":                       "Mise à jour disponible",
	"Installing":                             "Installation en cours",
	"In maintenance":                         "En maintenance",
	"Failed":                                 "Échec",
	"Ineligible":                             "Non éligible",
	"Check failed":                           "Vérification échouée",
	"Not checked yet":                        "Pas encore vérifié",
	"Rolling back":                           "Restauration en cours",
	"Checking":                               "Vérification",
	"Running a script":                       "Script en cours",
	"Working":                                "En cours",
	"Starting":                               "Démarrage",
	"Downloading":                            "Téléchargement",
	"Extracting":                             "Extraction",
	"Running a hook":                         "Script d'étape en cours",
	"Maintenance on":                         "Maintenance activée",
	"Keeping a backup":                       "Sauvegarde",
	"Swapping in":                            "Mise en place",
	"Finishing":                              "Finalisation",
	"Running the script":                     "Exécution du script",
	"Standard":                               "Standard",
	"Customised":                             "Personnalisée",
	"Empty":                                  "Vide",
	"Unknown":                                "Inconnu",
	"script {0} applied":                     "script {0} appliqué",
	"no script applied":                      "aucun script appliqué",
	"{0} added, {1} removed, {2} changed":    "{0} ajoutés, {1} supprimés, {2} modifiés",
	"In maintenance: visitors see the maintenance page.": "En maintenance : les visiteurs voient la page de maintenance.",
	"An install will fail: {0}":                          "Une installation échouera : {0}",
	"Downloaded":                                         "Téléchargé",
	"Not downloaded":                                     "Non téléchargé",
	"Install":                                            "Mettre à jour",
	"Install {0}":                                        "Mettre à jour vers {0}",
	"unknown (not checked yet)":                          "inconnu (pas encore vérifié)",
	"reachable":                                          "joignable",
	"unreachable":                                        "injoignable",
	"{0} of {1} ({2} %)":                                 "{0} sur {1} ({2} %)",
	"No automatic install":                               "Aucune installation automatique",
	"Any time":                                           "À tout moment",
	"every day":                                          "tous les jours",
	"all day":                                            "toute la journée",
	"Could not read the modules: {0}":                    "Impossible de lire les modules : {0}",
	"Could not read the operations: {0}":                 "Impossible de lire les opérations : {0}",
	"check":                                              "vérification",
	"install":                                            "installation",
	"rollback":                                           "restauration",
	"script":                                             "script",
	"hold":                                               "mise en attente",
	"release":                                            "fin d'attente",
	"maintenance off":                                    "fin de maintenance",
	"running":                                            "en cours",
	"succeeded":                                          "réussie",
	"failed":                                             "échouée",
	"Run {0} on {1} now?":                                "Exécuter {0} sur {1} maintenant ?",
	"Record {0} as run by hand on {1}?":                  "Enregistrer {0} comme exécuté à la main sur {1} ?",
	"Take down the maintenance flag of {0}? It is renamed to .bak, or kept in the state folder.": "Retirer le fichier de maintenance de {0} ? Il est renommé en .bak, ou conservé dans le dossier d'état.",
	"Put {0} back to its previous version?":                                                      "Restaurer la version précédente de {0} ?",
	"sign in":                                                                                    "connexion",
	"This portal is protected: type the secret of the agent's token file.":                       "Ce portail est protégé : saisissez le secret du fichier de jeton de l'agent.",
	"Secret":        "Secret",
	"Sign in":       "Se connecter",
	"Wrong secret.": "Secret incorrect.",
	"Too many wrong secrets: try again in {0} s.": "Trop de secrets incorrects : réessayez dans {0} s.",
	"The form could not be read: {0}":             "Le formulaire n'a pas pu être lu : {0}",
	"operator":                                    "demande d'une personne",
	"{0} failed: {1}":                             "{0} a échoué : {1}",
}
